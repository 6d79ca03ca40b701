"""Thin Celery entry points (STYLE.md rule 7), one module per sub-domain; Celery's autodiscovery
imports this package, which imports them all."""

from .batch import *  # noqa: F403
from .close import *  # noqa: F403
from .collateral import *  # noqa: F403
from .events import *  # noqa: F403
from .notifications import *  # noqa: F403
from .patents import *  # noqa: F403
from .repayment_files import *  # noqa: F403
from .scenarios import *  # noqa: F403
from .subsidies import *  # noqa: F403
