from .applications import OPEN_STATUSES, Application, ApplicationPatent, ApplicationStatus, RepaymentMethod
from .audit import AuditLog
from .batch import BatchChunk, ChunkStatus
from .close import CloseChunk, CloseRun, RunStatus
from .idempotency import IdempotencyKey
from .ledger import Account, AccountKind, EntryKind, JournalEntry, Posting
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
from .policies import Policy, PolicyStatus, PremiumPayment
from .repayment_files import FileStatus, RepaymentFile, RepaymentFileLine
from .repayments import Repayment, RepaymentAllocation, RepaymentReversal
from .risk_pool import (
    FundMovement,
    FundMovementKind,
    LossEvent,
    Recovery,
    Settlement,
    SettlementParty,
    SettlementStatus,
)
from .scenarios import SCENARIO_TRANSITIONS, Scenario, ScenarioStatus
from .subsidies import (
    BenchmarkRate,
    BenchmarkSource,
    EntitlementStatus,
    SubsidyEntitlement,
    SubsidyKind,
    SubsidyRun,
    SubsidyRunChunk,
    SubsidyRunStatus,
)
from .valuations import PatentValuation, Valuation, ValuationStatus

__all__ = [
    "OPEN_STATUSES",
    "SCENARIO_TRANSITIONS",
    "Account",
    "AccountKind",
    "Application",
    "ApplicationPatent",
    "ApplicationStatus",
    "AuditLog",
    "BatchChunk",
    "BenchmarkMode",
    "BenchmarkRate",
    "BenchmarkSource",
    "ChunkStatus",
    "CloseChunk",
    "CloseRun",
    "EntitlementStatus",
    "EntryKind",
    "FileStatus",
    "FundMovement",
    "FundMovementKind",
    "IdempotencyKey",
    "Installment",
    "InstallmentStatus",
    "JournalEntry",
    "Loan",
    "LoanStatus",
    "LossEvent",
    "Organization",
    "OrganizationKind",
    "Patent",
    "PatentStatus",
    "PatentType",
    "PatentValuation",
    "Patentee",
    "Pledge",
    "PledgedPatent",
    "Policy",
    "PolicyStatus",
    "Posting",
    "PremiumPayment",
    "Program",
    "Recovery",
    "Region",
    "Repayment",
    "RepaymentAllocation",
    "RepaymentFile",
    "RepaymentFileLine",
    "RepaymentMethod",
    "RepaymentReversal",
    "RunStatus",
    "Scenario",
    "ScenarioStatus",
    "Settlement",
    "SettlementParty",
    "SettlementStatus",
    "SizeClass",
    "SubsidyEntitlement",
    "SubsidyKind",
    "SubsidyPeriodKind",
    "SubsidyRun",
    "SubsidyRunChunk",
    "SubsidyRunStatus",
    "User",
    "Valuation",
    "ValuationStatus",
]
