"""Small helpers the services share: business-date checks, the programme a regulator starts work on."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from fintech.errors import DateOutOfRange, FutureDate, InvalidInput
from fintech.models import Program
from fintech.rules.dates import PROGRAMME_EPOCH, date_window_problem


def business_today() -> date:
    """Today in the platform's time zone (Asia/Shanghai)."""
    return timezone.localdate()


def ensure_not_future(value: date, field: str, *, earliest: date = PROGRAMME_EPOCH) -> None:
    """Event dates are business dates: past dates are normal, future dates are refused, and so are
    dates before `earliest` (by default the programme epoch of rules.dates)."""
    problem = date_window_problem(value, today=business_today(), earliest=earliest)
    if problem == "early":
        message = _("A business date may not lie before %(earliest)s.") % {"earliest": earliest.isoformat()}
        raise DateOutOfRange(
            _("%(field)s: %(message)s") % {"field": field, "message": message}, fields={field: [message]}
        )
    if problem == "future":
        raise FutureDate(
            _("%(field)s %(date)s is in the future.") % {"field": field, "date": value.isoformat()},
            fields={
                field: [
                    _("A business date may not lie in the future (today is %(today)s).")
                    % {"today": business_today()}
                ]
            },
        )


def program_to_start(programs: QuerySet[Program], program_id: object) -> Program:
    """The programme `program_id` among `programs` (those the regulator may start a subsidy run or
    a scenario on); 400 on `program` when it is not one of them or not an id."""
    program = None
    if isinstance(program_id, int) and not isinstance(program_id, bool):
        program = programs.filter(pk=program_id).first()
    if program is None:
        raise InvalidInput.on("program", _("No programme with this id serves your region."))
    return program
