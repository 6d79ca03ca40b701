"""Reads of applications, each one the caller may see (fintech.access):
404 when it is not theirs to see, 403 when their role does not do this."""

from __future__ import annotations

from django.utils.translation import gettext as _

from fintech.access import applications_visible_to, require_role
from fintech.errors import NotFound
from fintech.models import Application, ApplicationPatent, User

__all__ = ["application_for", "application_patent_ids", "applications_visible_to"]


def application_patent_ids(application_ids: list[int]) -> dict[int, list[int]]:
    """{application id: its patents' ids in patent order}, in one query for a page of applications."""
    out: dict[int, list[int]] = {}
    links = ApplicationPatent.objects.filter(application_id__in=application_ids).order_by("patent_id")
    for application_id, patent_id in links.values_list("application_id", "patent_id"):
        out.setdefault(application_id, []).append(patent_id)
    return out


def application_for(user: User, pk: int, *roles: str) -> Application:
    """The application, if the caller may see it (404 otherwise) and has one of the roles (403)."""
    require_role(user, *roles)
    app = applications_visible_to(user).filter(pk=pk).first()
    if app is None:
        raise NotFound(_("Application not found."))
    return app
