"""The demo book of `manage.py seed_demo`: its cast and story (`cast.py`, data) and the driver that
tells it through the services on business dates (`book.py`)."""

from .book import demo_seed
from .cast import DEMO_PASSWORD

__all__ = ["DEMO_PASSWORD", "demo_seed"]
