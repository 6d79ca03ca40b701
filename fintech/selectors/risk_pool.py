"""Reads of the risk pool (DOMAIN.md section 10): a loss event's position (shares, recovered,
settled, net), the government risk fund's balance and the risk-pool report, scoped per
organisation (regulators: their region; the fund: the programmes serving their region)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

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
        raise NotFound("Programme not found.")
    return program


def settlement_for(user: User, pk: int) -> Settlement:
    settlement = settlements_visible_to(user).filter(pk=pk).first()
    if settlement is None:
        raise NotFound("Settlement not found.")
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
        raise InvalidInput.on("period", "Enter a quarter like 2025Q3 or a month like 2025-07.") from exc


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


def risk_pool_report(user: User, *, period: str | None = None, program: str | None = None) -> RiskPoolReport:
    """The risk-pool report for regulators (their region) and the platform: one query for the
    rows, three aggregates for their totals and one for the fund, however many rows there are."""
    require_role(user, K.REGULATOR)
    parsed = period_parse(period) if period else None
    program_id: int | None = None
    if program not in (None, ""):
        if not re.fullmatch(r"[0-9]{1,18}", str(program)):  # an id the database can compare
            raise InvalidInput.on("program", "A programme is named by its integer id.")
        program_id = int(str(program))
    events = loss_events_visible_to(user)
    programs = programs_served_for(user)
    if program_id is not None:
        events = events.filter(program_id=program_id)
        programs = programs.filter(pk=program_id)
    fund = fund_position(
        programs, start=parsed.start if parsed else None, as_of=parsed.end if parsed else None
    )
    return RiskPoolReport(
        parsed, program_id, report_rows(events, period=parsed), report_totals(events, period=parsed), fund
    )
