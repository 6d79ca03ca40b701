from django.urls import path

from . import parties, patents

urlpatterns = [
    path("auth/register/", parties.RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", parties.TokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh/", parties.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("me/", parties.MeApi.as_view(), name="me"),
    path("organizations/", parties.OrganizationListApi.as_view(), name="organization-list"),
    path("programs/", parties.ProgramListApi.as_view(), name="program-list"),
    path("programs/<int:pk>/", parties.ProgramDetailApi.as_view(), name="program-detail"),
    path("patents/", patents.PatentListCreateApi.as_view(), name="patent-list"),
    path("patents/<int:pk>/", patents.PatentDetailApi.as_view(), name="patent-detail"),
]
