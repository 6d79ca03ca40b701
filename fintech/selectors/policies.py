"""Reads of insurance policies, each one the caller may see (fintech.access): 404 when it is not
theirs to see, 403 when their role does not do this."""

from __future__ import annotations

from django.utils.translation import gettext as _

from fintech.access import policies_visible_to, require_role
from fintech.errors import NotFound
from fintech.models import Policy, User

__all__ = ["policy_for"]


def policy_for(user: User, pk: int, *roles: str) -> Policy:
    require_role(user, *roles)
    policy = policies_visible_to(user).filter(pk=pk).first()
    if policy is None:
        raise NotFound(_("Policy not found."))
    return policy
