"""The product's URLs plus the floor view of bench/api_lists.py (bench settings only)."""

from django.urls import path

from bench.lists_floor import floor_applications, floor_loans
from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as product

urlpatterns = [
    path("bench/floor/applications/", floor_applications),
    path("bench/floor/loans/", floor_loans),
    *product,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
