from .audit import AuditLog
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
