from .applications import (
    OPEN_STATUSES,
    Application,
    ApplicationPatent,
    ApplicationStatus,
    PatentValuation,
    Policy,
    PolicyStatus,
    PremiumPayment,
    RepaymentMethod,
    Valuation,
    ValuationStatus,
)
from .audit import AuditLog
from .idempotency import IdempotencyKey
from .repayments import Repayment, RepaymentAllocation
from .loans import Installment, InstallmentStatus, Loan, LoanStatus, Pledge, PledgedPatent
from .parties import (
    BenchmarkMode,
    Organization,
    OrganizationKind,
    Program,
    Region,
    SizeClass,
    SubsidyPeriodKind,
    User,
)
from .patents import Patent, Patentee, PatentStatus, PatentType

__all__ = [
    "OPEN_STATUSES",
    "Application",
    "ApplicationPatent",
    "ApplicationStatus",
    "IdempotencyKey",
    "Installment",
    "InstallmentStatus",
    "Loan",
    "LoanStatus",
    "PatentValuation",
    "Pledge",
    "PledgedPatent",
    "Policy",
    "PolicyStatus",
    "PremiumPayment",
    "Repayment",
    "RepaymentAllocation",
    "RepaymentMethod",
    "Valuation",
    "ValuationStatus",
    "AuditLog",
    "BenchmarkMode",
    "Organization",
    "OrganizationKind",
    "Patent",
    "PatentStatus",
    "PatentType",
    "Patentee",
    "Program",
    "Region",
    "SizeClass",
    "SubsidyPeriodKind",
    "User",
]
