"""Reads of the risk pool (DOMAIN.md section 10): a loss event's position (shares, recovered,
settled, net), the government risk fund's balance and the risk-pool report, scoped per
organisation (regulators: their region; the fund: the programmes serving their region)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from fintech.access import loss_events_visible_to, programs_served_for, require_role, settlements_visible_to
from fintech.errors import InvalidInput, NotFound
from fintech.models import (
    FundMovement,
    FundMovementKind,
    LossEvent,
    OrganizationKind,
    Program,
    Recovery,
    Settlement,
    SettlementParty,
    SettlementStatus,
    User,
)
from fintech.models.base import MoneyField
from fintech.money import ZERO, round_fen
from fintech.rules.subsidies import InvalidPeriod, Period, parse_period

K = OrganizationKind
MONEY = MoneyField()  # the output type of the money sums
PARTIES = ("insurer", "government", "bank")
SETTLING_PARTIES = (SettlementParty.INSURER.value, SettlementParty.GOVERNMENT.value)


def _zero() -> Value:
    return Value(ZERO, output_field=MONEY)


# --- one loss event ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyAmounts:
    insurer: Decimal
    government: Decimal
    bank: Decimal

    def of(self, party: str) -> Decimal:
        return getattr(self, party)  # type: ignore[no-any-return]

    @property
    def total(self) -> Decimal:
        return self.insurer + self.government + self.bank


@dataclass(frozen=True)
class LossPosition:
    """Where a loss event stands: shares, what recoveries gave back, what the insurer and the fund
    have settled (approved) or put up for approval (pending)."""

    shares: PartyAmounts
    recovered: PartyAmounts
    settled: dict[str, Decimal]
    pending: dict[str, Decimal]

    @property
    def net(self) -> PartyAmounts:
        """Each party's net loss: its share less its part of the recoveries."""
        return PartyAmounts(
            *(self.shares.of(p) - self.recovered.of(p) for p in PARTIES)  # type: ignore[arg-type]
        )

    def settleable(self, party: str) -> Decimal:
        """What the party may still put up for settlement: share - approved - pending.

        Its part of a recovery is not deducted here: the recovery already paid that part to the
        party itself (its cash <- its loss expense), so the settlement still owes the bank the whole
        share, whichever comes first; the party's net loss is share - recovered either way.
        """
        return self.shares.of(party) - self.settled[party] - self.pending[party]


def loss_event_position(event: LossEvent) -> LossPosition:
    """Two aggregate queries (recoveries, settlements), whatever their number."""
    rec = Recovery.objects.filter(loss_event=event).aggregate(
        insurer=Coalesce(Sum("insurer_part"), _zero()),
        government=Coalesce(Sum("government_part"), _zero()),
        bank=Coalesce(Sum("bank_part"), _zero()),
    )
    by_party: dict[str, Any] = {}
    for party in SETTLING_PARTIES:
        for status in (SettlementStatus.APPROVED, SettlementStatus.PENDING):
            by_party[f"{party}_{status}"] = Coalesce(
                Sum("amount", filter=Q(party=party, status=status)), _zero()
            )
    settled = Settlement.objects.filter(loss_event=event).aggregate(**by_party)
    # SQLite sums decimals as floats and returns extra digits: back to the fen (exact sums).
    rec = {k: round_fen(Decimal(v)) for k, v in rec.items()}
    settled = {k: round_fen(Decimal(v)) for k, v in settled.items()}
    return LossPosition(
        shares=PartyAmounts(event.insurer_share, event.government_share, event.bank_share),
        recovered=PartyAmounts(rec["insurer"], rec["government"], rec["bank"]),
        settled={p: settled[f"{p}_approved"] for p in SETTLING_PARTIES},
        pending={p: settled[f"{p}_pending"] for p in SETTLING_PARTIES},
    )


# --- scoping -------------------------------------------------------------------------------------


def fund_program_for(user: User, pk: int) -> Program:
    """A programme whose fund the regulator keeps (one serving its region); 404 otherwise."""
    require_role(user, K.REGULATOR)
    program = programs_served_for(user).filter(pk=pk).first()
    if program is None:
        raise NotFound(_("Programme not found."))
    return program


def settlement_for(user: User, pk: int) -> Settlement:
    settlement = settlements_visible_to(user).filter(pk=pk).first()
    if settlement is None:
        raise NotFound(_("Settlement not found."))
    return settlement


# --- the government risk fund --------------------------------------------------------------------


@dataclass(frozen=True)
class FundPosition:
    """Movements within the period (all time without one) and the balance at its end. The
    unfunded liability is the negative part of each programme's balance, summed."""

    top_ups: Decimal
    draws: Decimal
    recoveries: Decimal
    balance: Decimal
    unfunded: Decimal


def fund_balance(program_id: int, *, as_of: date | None = None) -> Decimal:
    """Top-ups + recoveries - draws of one programme's fund (negative when draws outran it)."""
    return fund_position(Program.objects.filter(pk=program_id), as_of=as_of).balance


def fund_position(
    programs: QuerySet[Program], *, start: date | None = None, as_of: date | None = None
) -> FundPosition:
    """One aggregate query grouped by programme, however many movements there are."""
    in_period = Q()
    if start is not None:
        in_period &= Q(on__gte=start)
    to_end = Q() if as_of is None else Q(on__lte=as_of)
    in_period &= to_end

    def moved(kind: str) -> Coalesce:
        return Coalesce(Sum("amount", filter=in_period & Q(kind=kind)), _zero())

    signed = Case(
        When(kind=FundMovementKind.DRAW, then=-F("amount")), default=F("amount"), output_field=MONEY
    )
    per_program = (
        FundMovement.objects.filter(program__in=programs.values("pk"))
        .values("program")
        .annotate(
            top_ups=moved(FundMovementKind.TOP_UP),
            draws=moved(FundMovementKind.DRAW),
            recoveries=moved(FundMovementKind.RECOVERY),
            balance=Coalesce(Sum(signed, filter=to_end), _zero()),
        )
        .order_by("program")
    )
    top_ups = draws = recoveries = balance = unfunded = ZERO
    for row in per_program:
        top_ups += row["top_ups"]
        draws += row["draws"]
        recoveries += row["recoveries"]
        balance += row["balance"]
        unfunded += max(-row["balance"], ZERO)
    return FundPosition(top_ups, draws, recoveries, balance, unfunded)


# --- the risk-pool report ------------------------------------------------------------------------


def period_parse(text: str) -> Period:
    """`2025Q3` (July to September) or `2025-07`; anything else is a 400 on `period`."""
    try:
        return parse_period(text)
    except InvalidPeriod as exc:
        raise InvalidInput.on("period", _("Enter a quarter like 2025Q3 or a month like 2025-07.")) from exc


def _party_sum(qs: QuerySet[Any], field: str) -> Coalesce:
    """A correlated SUM over the rows of one loss event (no join, so no fan-out of the report)."""
    total = qs.filter(loss_event=OuterRef("pk")).values("loss_event").annotate(s=Sum(field)).values("s")
    return Coalesce(Subquery(total, output_field=MONEY), _zero(), output_field=MONEY)


def report_rows(events: QuerySet[LossEvent], *, period: Period | None) -> QuerySet[LossEvent]:
    """Loss events with their recovered, settled and net figures as of the period's end."""
    recoveries = Recovery.objects.all()
    settlements = Settlement.objects.filter(status=SettlementStatus.APPROVED)
    if period is not None:
        events = events.filter(default_on__range=(period.start, period.end))
        recoveries = recoveries.filter(received_on__lte=period.end)
        settlements = settlements.filter(paid_on__lte=period.end)
    rows = events.annotate(
        recovered_insurer=_party_sum(recoveries, "insurer_part"),
        recovered_government=_party_sum(recoveries, "government_part"),
        recovered_bank=_party_sum(recoveries, "bank_part"),
        settled_insurer=_party_sum(settlements.filter(party=SettlementParty.INSURER), "amount"),
        settled_government=_party_sum(settlements.filter(party=SettlementParty.GOVERNMENT), "amount"),
    )
    return rows.annotate(
        net_insurer=F("insurer_share") - F("recovered_insurer"),
        net_government=F("government_share") - F("recovered_government"),
        net_bank=F("bank_share") - F("recovered_bank"),
    ).order_by("default_on", "id")


def _sums(*names: str) -> dict[str, Coalesce]:
    return {name: Coalesce(Sum(name), _zero(), output_field=MONEY) for name in names}


def report_totals(events: QuerySet[LossEvent], *, period: Period | None) -> dict[str, Any]:
    """The totals of the report's rows: one aggregate query each over the loss events, their
    recoveries and their settlements (filtered as the rows are), whatever their number."""
    if period is not None:
        events = events.filter(default_on__range=(period.start, period.end))
    recoveries = Recovery.objects.filter(loss_event__in=events.values("pk"))
    settlements = Settlement.objects.filter(
        loss_event__in=events.values("pk"), status=SettlementStatus.APPROVED
    )
    if period is not None:
        recoveries = recoveries.filter(received_on__lte=period.end)
        settlements = settlements.filter(paid_on__lte=period.end)
    totals: dict[str, Any] = events.order_by().aggregate(
        loss_events=Count("pk"),
        **_sums("loss_amount", "insurer_share", "government_share", "bank_share", "unfunded_amount"),
    )
    recovered = recoveries.order_by().aggregate(**_sums("insurer_part", "government_part", "bank_part"))
    for party in PARTIES:
        totals[f"recovered_{party}"] = recovered[f"{party}_part"]
        totals[f"net_{party}"] = totals[f"{party}_share"] - recovered[f"{party}_part"]
    settled = settlements.order_by().aggregate(
        **{
            f"settled_{party}": Coalesce(Sum("amount", filter=Q(party=party)), _zero(), output_field=MONEY)
            for party in SETTLING_PARTIES
        }
    )
    totals.update(settled)
    return totals


@dataclass(frozen=True)
class RiskPoolReport:
    period: Period | None
    program_id: int | None
    rows: QuerySet[LossEvent]  # lazy: iterated once by the JSON, CSV or XLSX writer
    totals: dict[str, Any]
    fund: FundPosition


@dataclass(frozen=True)
class Narrowing:
    """Filters of the regulator's screens, within what the user sees: the programme, the SME's
    region, the loan's bank and its policy's insurer. The fund belongs to a programme, so the bank
    and the insurer narrow the loss events, not the fund."""

    program: int | None = None
    region: str | None = None
    bank: int | None = None
    insurer: int | None = None


def scoped_events(user: User, narrowing: Narrowing) -> QuerySet[LossEvent]:
    events = loss_events_visible_to(user)
    for value, lookup in (
        (narrowing.program, "program_id"),
        (narrowing.region, "loan__sme__region_id"),
        (narrowing.bank, "loan__bank_id"),
        (narrowing.insurer, "loan__policy__insurer_id"),
    ):
        if value is not None:
            events = events.filter(**{lookup: value})
    return events


def scoped_programs(user: User, narrowing: Narrowing) -> QuerySet[Program]:
    programs = programs_served_for(user)
    if narrowing.program is not None:
        programs = programs.filter(pk=narrowing.program)
    if narrowing.region is not None:
        programs = programs.filter(regions__pk=narrowing.region)
    return programs.distinct()


def _program_id(program: str | None) -> int | None:
    if program in (None, ""):
        return None
    if not re.fullmatch(r"[0-9]{1,18}", str(program)):  # an id the database can compare
        raise InvalidInput.on("program", _("A programme is named by its integer id."))
    return int(str(program))


def risk_pool_report(
    user: User,
    *,
    period: str | None = None,
    program: str | None = None,
    narrowing: Narrowing | None = None,
) -> RiskPoolReport:
    """The risk-pool report for regulators (their region) and the platform: one query for the
    rows, three aggregates for their totals and one for the fund, however many rows there are.
    `narrowing` (the admin's filters) narrows further; its programme, if any, wins over `program`."""
    require_role(user, K.REGULATOR)
    parsed = period_parse(period) if period else None
    narrowing = narrowing or Narrowing()
    if narrowing.program is None:
        narrowing = replace(narrowing, program=_program_id(program))
    events = scoped_events(user, narrowing)
    programs = scoped_programs(user, narrowing)
    fund = fund_position(
        programs, start=parsed.start if parsed else None, as_of=parsed.end if parsed else None
    )
    return RiskPoolReport(
        parsed,
        narrowing.program,
        report_rows(events, period=parsed),
        report_totals(events, period=parsed),
        fund,
    )


# --- the risk pool over time (the regulator's dashboard) -----------------------------------------


@dataclass(frozen=True)
class RiskPeriod:
    """One period of the risk pool over time: the loss events that defaulted in it (their loss and
    shares), the recoveries received in it (each party's part), and the fund's movements in it
    with its balance (and unfunded part) at the period's end."""

    period: Period
    loss_events: int
    loss_amount: Decimal
    insurer_share: Decimal
    government_share: Decimal
    bank_share: Decimal
    recovered: PartyAmounts
    fund: FundPosition


def quarters_between(first: date, last: date) -> list[Period]:
    """The calendar quarters from the one holding `first` to the one holding `last`."""
    out: list[Period] = []
    year, quarter = first.year, (first.month - 1) // 3 + 1
    while date(year, 3 * quarter - 2, 1) <= last:
        out.append(parse_period(f"{year}Q{quarter}"))
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return out


def risk_periods(user: User, narrowing: Narrowing, *, period: Period | None, today: date) -> list[Period]:
    """The periods the dashboard shows: the one asked for, else every quarter from the first loss
    event or fund movement the user sees to today's."""
    if period is not None:
        return [period]
    starts = [
        scoped_events(user, narrowing).order_by().aggregate(first=Min("default_on"))["first"],
        FundMovement.objects.filter(program__in=scoped_programs(user, narrowing).values("pk"))
        .order_by()
        .aggregate(first=Min("on"))["first"],
    ]
    known = [d for d in starts if d is not None]
    return quarters_between(min(known), today) if known else []


def recoveries_received(events: QuerySet[LossEvent], period: Period) -> PartyAmounts:
    """Each party's part of the recoveries received within the period on these loss events."""
    got = (
        Recovery.objects.filter(
            loss_event__in=events.values("pk"), received_on__range=(period.start, period.end)
        )
        .order_by()
        .aggregate(**_sums("insurer_part", "government_part", "bank_part"))
    )
    return PartyAmounts(*(round_fen(Decimal(got[f"{p}_part"])) for p in PARTIES))


def risk_over_time(user: User, narrowing: Narrowing, periods: list[Period]) -> list[RiskPeriod]:
    """Per period: the report's totals (`report_totals`), the recoveries received and the fund's
    position (`fund_position`) -- the same figures as the risk-pool report, a few aggregate
    queries per period."""
    require_role(user, K.REGULATOR)
    events = scoped_events(user, narrowing)
    programs = scoped_programs(user, narrowing)
    out: list[RiskPeriod] = []
    for period in periods:
        totals = report_totals(events, period=period)
        out.append(
            RiskPeriod(
                period=period,
                loss_events=totals["loss_events"],
                loss_amount=totals["loss_amount"],
                insurer_share=totals["insurer_share"],
                government_share=totals["government_share"],
                bank_share=totals["bank_share"],
                recovered=recoveries_received(events, period),
                fund=fund_position(programs, start=period.start, as_of=period.end),
            )
        )
    return out
