"""One exception hierarchy for the API; each class is named after the rule that was broken.

config.api.exception_handler turns them into `{"code", "message", "fields"}` with their status.
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "invalid"
    default_message = "The request breaks a rule."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.fields = fields or {}
        # More keys of the error body (e.g. the payoff a settlement amount must equal).
        self.extra = extra or {}
        super().__init__(self.message)


# 400: the input is wrong ------------------------------------------------------------------------
class InvalidInput(DomainError):
    status_code = 400
    code = "invalid"
    default_message = "Invalid input."

    @classmethod
    def on(cls, field: str, message: str) -> InvalidInput:
        return cls(message, fields={field: [message]})


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
    default_message = "An early settlement pays exactly the payoff amount."


class ExtensionBeyondLimit(InvalidInput):
    code = "extension_beyond_limit"


# 403: authenticated, but this role may not ------------------------------------------------------
class RoleNotAllowed(DomainError):
    status_code = 403
    code = "permission_denied"
    default_message = "Your role may not do this."


class SamePersonApproval(RoleNotAllowed):
    code = "four_eyes"
    default_message = "A second person must approve: you started this."


# 404: not found or not yours --------------------------------------------------------------------
class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


# 409: the record's state forbids it, or a concurrent change won ---------------------------------
class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The record's state does not allow this."


class InvalidTransition(Conflict):
    code = "invalid_state"

    def __init__(self, current: str, action: str, message: str | None = None) -> None:
        self.current = current
        super().__init__(message or f"Cannot {action}: the record is '{current}'.")


class AlreadyRegistered(Conflict):
    code = "already_registered"


class PatentAlreadyPledged(Conflict):
    code = "patent_already_pledged"
    default_message = "The patent is already under an active pledge."


class ProgramSuspended(Conflict):
    code = "program_suspended"
    default_message = "The programme is not taking new applications."


class PremiumNotPaid(Conflict):
    code = "premium_not_paid"
    default_message = "The premium has not been paid."


class PledgeNotRegistered(Conflict):
    code = "pledge_not_registered"
    default_message = "The pledge has not been registered."


class ValuationExpired(Conflict):
    code = "valuation_expired"
    default_message = "The valuation is past its validity on that date."


class MaturityAfterPatentExpiry(Conflict):
    code = "maturity_after_patent_expiry"
    default_message = "The loan would mature after a pledged patent expires."


class CoOwnerConsentMissing(Conflict):
    code = "co_owner_consent_missing"
    default_message = "Every co-owner of a pledged patent must consent first."


class NotEligible(InvalidInput):
    code = "not_eligible"


class RepaymentAlreadyReversed(Conflict):
    code = "repayment_already_reversed"
    default_message = "This repayment has already been reversed."


class RepaymentNotLatest(Conflict):
    code = "repayment_not_latest"
    default_message = "Only the loan's most recent repayment that stands may be reversed."


class DuplicateTransactionId(Conflict):
    code = "duplicate_transaction_id"
    default_message = "This bank transaction id has already been applied."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with a different request."


class InstallmentsStillDue(Conflict):
    code = "installments_still_due"
    default_message = "Every installment due on or before the value date must be paid first."


class PaidInAdvance(Conflict):
    code = "paid_in_advance"
    default_message = "An installment due after the value date already has payments."


class PrepaymentInPeriod(Conflict):
    code = "prepayment_in_period"
    default_message = "The accrual period already had a prepayment."


class PrepaymentRepeated(Conflict):
    code = "prepayment_repeated"
    default_message = "The loan already has a prepayment on this value date."


class ExtensionExists(Conflict):
    code = "extension_exists"
    default_message = "A loan is extended at most once."
