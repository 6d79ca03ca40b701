"""The window of business dates (DOMAIN.md "Dates are business dates"): past dates are normal,
future dates are refused, and no date lies before the first day the rule book can speak of."""

from __future__ import annotations

from datetime import date

# The Patent Law of the PRC took effect on 1985-04-01: no Chinese patent was filed earlier.
PATENT_LAW_IN_FORCE = date(1985, 4, 1)

# The first day of the platform's rate tables (the PBOC benchmark in force from 2015-10-24, frozen
# until the LPR of 2019-08-20): interest, subsidies and losses cannot be worked out before it, so no
# event of a programme (valuation, premium, pledge, disbursement, repayment, default, recovery,
# settlement, fund top-up, subsidy payment, daily close, report date) may be dated earlier.
PROGRAMME_EPOCH = date(2015, 10, 24)


def date_window_problem(value: date, *, today: date, earliest: date = PROGRAMME_EPOCH) -> str | None:
    """ "future" when after today, "early" when before `earliest`, None inside the window."""
    if value > today:
        return "future"
    if value < earliest:
        return "early"
    return None
