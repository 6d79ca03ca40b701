"""The review desks: what each application waits for, and on whom (DOMAIN.md sections 1, 7 and 8).

An application's open steps follow from its status and the records it gathered on the way:

    draft                         submission    (the SME)
    valuation                     valuation     (the appraisal firm)
    underwriting                  policy        (the insurer issues it)
    bank review                   approval      (the bank), and premium while it is unpaid
    approved                      premium       (the insurer records the payment) while unpaid,
                                  pledge        (the bank registers it) while missing,
                                  disbursement  (the bank) once the premium is paid and the pledge registered

The bank may approve once the policy is issued; it disburses only when the premium is paid and the
pledge registered, so "disbursement" is not open before both. The same rule is written twice, once
as a filter (`step_filter`, for queues and counts in one query) and once on a loaded application
(`open_steps`, for the row's column and the page's buttons); tests hold the two to each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fintech import access
from fintech.models import Application, ApplicationStatus, Loan, OrganizationKind, PolicyStatus

S = ApplicationStatus
K = OrganizationKind


# Who takes a step, as the desks name them.
PARTIES: dict[str, Any] = {
    K.SME: _("SME"),
    K.APPRAISER: _("appraisal firm"),
    K.INSURER: _("insurer"),
    K.BANK: _("bank"),
}


@dataclass(frozen=True)
class Step:
    key: str
    party: str  # the kind of organisation that takes the step
    label: Any  # what the application waits for
    todo: Any  # the step as the party's task


SUBMISSION = Step("submission", K.SME, _("submission"), _("submit the application"))
VALUATION = Step("valuation", K.APPRAISER, _("valuation"), _("file the valuation report"))
POLICY = Step("policy", K.INSURER, pgettext_lazy("waiting for", "policy"), _("issue the policy"))
PREMIUM = Step("premium", K.INSURER, pgettext_lazy("waiting for", "premium"), _("record the premium payment"))
APPROVAL = Step("approval", K.BANK, _("approval"), _("approve or decline"))
PLEDGE = Step("pledge", K.BANK, pgettext_lazy("waiting for", "pledge"), _("register the pledge"))
DISBURSEMENT = Step("disbursement", K.BANK, _("disbursement"), _("disburse the loan"))

STEPS: tuple[Step, ...] = (SUBMISSION, VALUATION, POLICY, PREMIUM, APPROVAL, PLEDGE, DISBURSEMENT)
BY_KEY = {step.key: step for step in STEPS}

_PREMIUM_UNPAID = Q(policy__status=PolicyStatus.ISSUED)
_FILTERS: dict[str, Q] = {
    "submission": Q(status=S.DRAFT),
    "valuation": Q(status=S.VALUATION),
    "policy": Q(status=S.UNDERWRITING),
    "premium": Q(status__in=(S.BANK_REVIEW, S.APPROVED)) & _PREMIUM_UNPAID,
    "approval": Q(status=S.BANK_REVIEW),
    "pledge": Q(status=S.APPROVED, loan__isnull=False, loan__pledge__isnull=True),
    "disbursement": Q(
        status=S.APPROVED, policy__status=PolicyStatus.ACTIVE, loan__isnull=False, loan__pledge__isnull=False
    ),
}


def step_filter(key: str) -> Q:
    """The applications on which step `key` is open."""
    return _FILTERS[key]


def steps_of(party: str) -> tuple[Step, ...]:
    """The steps an organisation of this kind takes, in the order of the flow."""
    return tuple(step for step in STEPS if step.party == party)


def _one(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name)
    except Exception:  # a missing reverse one-to-one (RelatedObjectDoesNotExist)
        return None


def open_steps(app: Application) -> tuple[Step, ...]:
    """The steps open on a loaded application (select_related "policy" and "loan__pledge" to
    spare the queries), in the order of the flow."""
    policy = _one(app, "policy")
    loan: Loan | None = _one(app, "loan")
    unpaid = policy is not None and policy.status == PolicyStatus.ISSUED
    paid = policy is not None and policy.status == PolicyStatus.ACTIVE
    pledged = loan is not None and _one(loan, "pledge") is not None
    status = app.status
    is_open = {
        "submission": status == S.DRAFT,
        "valuation": status == S.VALUATION,
        "policy": status == S.UNDERWRITING,
        "premium": status in (S.BANK_REVIEW, S.APPROVED) and unpaid,
        "approval": status == S.BANK_REVIEW,
        "pledge": status == S.APPROVED and loan is not None and not pledged,
        "disbursement": status == S.APPROVED and paid and pledged,
    }
    return tuple(step for step in STEPS if is_open[step.key])


def is_open(app: Application, key: str) -> bool:
    return any(step.key == key for step in open_steps(app))


def desk_role(user: Any) -> str:
    """The kind of organisation whose desk the user works at ("" for platform staff and
    regulators, who take no review step)."""
    role = access.role_of(user)
    return "" if access.is_platform(user) or not steps_of(role) else role


def waiting_on(user: Any) -> Q:
    """The applications waiting on the user's organisation: one of its steps is open."""
    wanted = Q(pk__in=[])
    for step in steps_of(desk_role(user)):
        wanted |= step_filter(step.key)
    return wanted


def desk_counts(user: Any, applications: QuerySet[Application]) -> list[tuple[Step, int]]:
    """For each step of the user's organisation, how many of `applications` (already scoped to the
    user) wait for it; one count per step (at most three)."""
    return [(step, applications.filter(step_filter(step.key)).count()) for step in steps_of(desk_role(user))]


def sme_loans_with_bank(user: Any, app: Application) -> QuerySet[Loan]:
    """The SME's other loans with the application's bank, as far as the user may see them."""
    loans = access.visible(user, Loan.objects.all())
    return loans.filter(sme_id=app.sme_id, bank_id=app.bank_id).exclude(application_id=app.pk).order_by("-id")
