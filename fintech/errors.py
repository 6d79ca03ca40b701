"""One exception hierarchy for the API; each class is named after the rule that was broken.

config.api.exception_handler turns them into `{"code", "message", "fields"}` with their status.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message: str | Promise = _("The request breaks a rule.")

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        # Evaluated now, in the language of the request (or the task) that broke the rule.
        self.message = str(message or self.default_message)
        self.fields = {field: [str(m) for m in messages] for field, messages in (fields or {}).items()}
        # More keys of the error body (e.g. the payoff a settlement amount must equal).
        self.extra = extra or {}
        super().__init__(self.message)


# 400: the input is wrong ------------------------------------------------------------------------
class InvalidInput(DomainError):
    status_code = 400
    code = "invalid"
    default_message: str | Promise = _("Invalid input.")

    @classmethod
    def on(cls, field: str, message: str | Promise) -> InvalidInput:
        return cls(message, fields={field: [str(message)]})


class NotAnSme(InvalidInput):
    code = "not_an_sme"


class PatentNotOwned(InvalidInput):
    code = "patent_not_owned"


class PatentNotEligible(InvalidInput):
    code = "patent_not_eligible"


class FutureDate(InvalidInput):
    code = "future_date"


class DateOutOfRange(InvalidInput):
    code = "date_out_of_range"


class DatesOutOfOrder(InvalidInput):
    code = "dates_out_of_order"


class PeriodNotEnded(InvalidInput):
    code = "period_not_ended"


class AmountOverLimit(InvalidInput):
    code = "amount_over_limit"


class PayoffMismatch(InvalidInput):
    code = "payoff_mismatch"
    default_message: str | Promise = _("An early settlement pays exactly the payoff amount.")


class ExtensionBeyondLimit(InvalidInput):
    code = "extension_beyond_limit"


# 403: authenticated, but this role may not ------------------------------------------------------
class RoleNotAllowed(DomainError):
    status_code = 403
    code = "permission_denied"
    default_message: str | Promise = _("Your role may not do this.")


class SamePersonApproval(RoleNotAllowed):
    code = "four_eyes"
    default_message: str | Promise = _("A second person must approve: you started this.")


# 404: not found or not yours --------------------------------------------------------------------
class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message: str | Promise = _("Not found.")


# 409: the record's state forbids it, or a concurrent change won ---------------------------------
class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message: str | Promise = _("The record's state does not allow this.")


class InvalidTransition(Conflict):
    """The record's state forbids the action. ``action`` is an English verb phrase (one of
    ACTIONS, which says it in the request's language); ``current`` is the status code, shown by
    its label."""

    code = "invalid_state"

    def __init__(
        self, current: str, action: str, message: str | Promise | None = None, *, label: str | None = None
    ) -> None:
        self.current = current
        if message is None:
            message = gettext("Cannot %(action)s: the record is '%(current)s'.") % {
                "action": ACTIONS.get(action, action),
                "current": label or status_label(current),
            }
        super().__init__(message)

    @classmethod
    def of(cls, record: Any, action: str, message: str | Promise | None = None) -> InvalidTransition:
        """The record's state forbids the action; the message names the state by the record's own
        label (a code like "active" is a loan's "Active" but an application's "Active (disbursed)")."""
        return cls(record.status, action, message, label=str(record.get_status_display()))


def status_label(code: str) -> str:
    """The label of a status code in the active language (the first model whose status choices
    know it), or the code itself. InvalidTransition.of names the record's own label."""
    from django.apps import apps

    for model in apps.get_app_config("fintech").get_models():
        field = next((f for f in model._meta.fields if f.name == "status"), None)
        for value, label in getattr(field, "choices", None) or ():
            if value == str(code):
                return str(label)
    return str(code)


# The verb phrases InvalidTransition is given (the FSM transitions' names with spaces, and the
# services' phrases), said in the request's language.
ACTIONS: dict[str, Promise] = {
    "approve": pgettext_lazy("action on a record", "approve"),
    "claim": pgettext_lazy("action on a record", "claim"),
    "complete": pgettext_lazy("action on a record", "complete"),
    "compute": pgettext_lazy("action on a record", "compute"),
    "decline": pgettext_lazy("action on a record", "decline"),
    "default": pgettext_lazy("action on a record", "default"),
    "disburse": pgettext_lazy("action on a record", "disburse"),
    "endorse": pgettext_lazy("action on a record", "endorse"),
    "expire": pgettext_lazy("action on a record", "expire"),
    "fail": pgettext_lazy("action on a record", "fail"),
    "finish": pgettext_lazy("action on a record", "finish"),
    "invalidate partly": pgettext_lazy("action on a record", "invalidate partly"),
    "lapse": pgettext_lazy("action on a record", "lapse"),
    "pay": pgettext_lazy("action on a record", "pay"),
    "policy issued": pgettext_lazy("action on a record", "policy issued"),
    "premium paid": pgettext_lazy("action on a record", "premium paid"),
    "report": pgettext_lazy("action on a record", "report"),
    "requeue": pgettext_lazy("action on a record", "requeue"),
    "resolve": pgettext_lazy("action on a record", "resolve"),
    "restore": pgettext_lazy("action on a record", "restore"),
    "settle": pgettext_lazy("action on a record", "settle"),
    "start running": pgettext_lazy("action on a record", "start running"),
    "submit": pgettext_lazy("action on a record", "submit"),
    "take effect": pgettext_lazy("action on a record", "take effect"),
    "transfer": pgettext_lazy("action on a record", "transfer"),
    "valuation reported": pgettext_lazy("action on a record", "valuation reported"),
    "withdraw": pgettext_lazy("action on a record", "withdraw"),
    "cancel": pgettext_lazy("action on a record", "cancel"),
    "add a patent to the pledge": pgettext_lazy("action on a record", "add a patent to the pledge"),
    "approve the settlement": pgettext_lazy("action on a record", "approve the settlement"),
    "declare a default": pgettext_lazy("action on a record", "declare a default"),
    "endorse the extension": pgettext_lazy("action on a record", "endorse the extension"),
    "extend the loan": pgettext_lazy("action on a record", "extend the loan"),
    "issue a policy": pgettext_lazy("action on a record", "issue a policy"),
    "pay an annual fee": pgettext_lazy("action on a record", "pay an annual fee"),
    "quote a payoff": pgettext_lazy("action on a record", "quote a payoff"),
    "record a payment": pgettext_lazy("action on a record", "record a payment"),
    "record a premium payment": pgettext_lazy("action on a record", "record a premium payment"),
    "record a prepayment": pgettext_lazy("action on a record", "record a prepayment"),
    "mark the legal status": pgettext_lazy("action on a record", "mark the legal status"),
    "record a partial prepayment": pgettext_lazy("action on a record", "record a partial prepayment"),
    "record a repayment": pgettext_lazy("action on a record", "record a repayment"),
    "register a pledge": pgettext_lazy("action on a record", "register a pledge"),
    "report a valuation": pgettext_lazy("action on a record", "report a valuation"),
    "resume": pgettext_lazy("action on a record", "resume"),
    "request a revaluation": pgettext_lazy("action on a record", "request a revaluation"),
    "record a recovery": pgettext_lazy("action on a record", "record a recovery"),
    "record a settlement": pgettext_lazy("action on a record", "record a settlement"),
    "reverse the repayment": pgettext_lazy("action on a record", "reverse the repayment"),
    "pay the endorsement premium": pgettext_lazy("action on a record", "pay the endorsement premium"),
}


class AlreadyRegistered(Conflict):
    code = "already_registered"


class PatentAlreadyPledged(Conflict):
    code = "patent_already_pledged"
    default_message: str | Promise = _("The patent is already under an active pledge.")


class ProgramSuspended(Conflict):
    code = "program_suspended"
    default_message: str | Promise = _("The programme is not taking new applications.")


class PremiumNotPaid(Conflict):
    code = "premium_not_paid"
    default_message: str | Promise = _("The premium has not been paid.")


class PledgeNotRegistered(Conflict):
    code = "pledge_not_registered"
    default_message: str | Promise = _("The pledge has not been registered.")


class ValuationExpired(Conflict):
    code = "valuation_expired"
    default_message: str | Promise = _("The valuation is past its validity on that date.")


class MaturityAfterPatentExpiry(Conflict):
    code = "maturity_after_patent_expiry"
    default_message: str | Promise = _("The loan would mature after a pledged patent expires.")


class CoOwnerConsentMissing(Conflict):
    code = "co_owner_consent_missing"
    default_message: str | Promise = _("Every co-owner of a pledged patent must consent first.")


class NotEligible(InvalidInput):
    code = "not_eligible"


class RepaymentAlreadyReversed(Conflict):
    code = "repayment_already_reversed"
    default_message: str | Promise = _("This repayment has already been reversed.")


class RepaymentNotLatest(Conflict):
    code = "repayment_not_latest"
    default_message: str | Promise = _("Only the loan's most recent repayment that stands may be reversed.")


class DuplicateTransactionId(Conflict):
    code = "duplicate_transaction_id"
    default_message: str | Promise = _("This bank transaction id has already been applied.")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message: str | Promise = _("This Idempotency-Key was used with a different request.")


class InstallmentsStillDue(Conflict):
    code = "installments_still_due"
    default_message: str | Promise = _(
        "Every installment due on or before the value date must be paid first."
    )


class PaidInAdvance(Conflict):
    code = "paid_in_advance"
    default_message: str | Promise = _("An installment due after the value date already has payments.")


class PrepaymentInPeriod(Conflict):
    code = "prepayment_in_period"
    default_message: str | Promise = _("The accrual period already had a prepayment.")


class PrepaymentRepeated(Conflict):
    code = "prepayment_repeated"
    default_message: str | Promise = _("The loan already has a prepayment on this value date.")


class ExtensionExists(Conflict):
    code = "extension_exists"
    default_message: str | Promise = _("A loan is extended at most once.")
