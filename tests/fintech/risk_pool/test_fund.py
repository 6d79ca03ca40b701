"""The government risk fund: top-ups by a regulator, draws by loss events, a draw beyond the
balance recorded as an unfunded liability; the programme's loss threshold (DOMAIN.md section 10)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fintech.errors import ProgramSuspended
from fintech.models import AuditLog, FundMovement, Program
from fintech.selectors.risk_pool import fund_balance, fund_position
from fintech.services.applications import application_create, application_submit
from fintech.services.ledger import FUND_CAPITAL, FUND_CASH
from fintech.services.risk_pool import fund_top_up_record, program_loss_threshold_check, recovery_record
from tests.factories import PatentFactory

from .helpers import LOSS, client_for, declare_default, postings_of, risk_snapshot

D = Decimal
pytestmark = pytest.mark.django_db
TOP_UPS_URL = "/api/v1/risk-fund/top-ups/"


def test_a_regulator_tops_up_the_fund(world):
    # given the Wuhan programme's empty fund

    # when a Wuhan regulator records 200,000.00 received on 2025-06-01
    response = client_for(world.regulator).post(
        TOP_UPS_URL,
        {"program": world.program.pk, "amount": "200000.00", "received_on": "2025-06-01"},
        format="json",
    )

    # then the top-up is recorded, the balance is 200,000.00, the ledger and the audit say so
    assert response.status_code == 201, response.json()
    movement = FundMovement.objects.get()
    assert response.json() == {
        "id": movement.pk,
        "program": world.program.pk,
        "kind": "top_up",
        "amount": "200000.00",
        "received_on": "2025-06-01",
        "balance": "200000.00",
    }
    assert (movement.kind, movement.amount, movement.on, movement.created_by) == (
        "top_up",
        D("200000.00"),
        date(2025, 6, 1),
        world.regulator,
    )
    assert postings_of(movement, "fund_top_up") == [
        (FUND_CASH, FUND_CAPITAL, D("200000.00"), world.regulator.organization_id)
    ]
    assert (
        AuditLog.objects.filter(action="fund.top_up", actor=world.regulator, amount=D("200000.00")).count()
        == 1
    )


def test_a_draw_beyond_the_balance_is_recorded_as_unfunded(world):
    # given 200,000.00 in the fund
    fund_top_up_record(
        actor=world.regulator,
        program_id=world.program.pk,
        amount=D("200000.00"),
        received_on=date(2025, 6, 1),
    )

    # when the standard loan defaults: the fund's share is 304,200.00
    event = declare_default(world)

    # then the whole share is drawn, 104,200.00 of it unfunded (304,200.00 - 200,000.00)
    assert (event.fund_balance_before, event.government_share, event.unfunded_amount) == (
        D("200000.00"),
        D("304200.00"),
        D("104200.00"),
    )
    assert FundMovement.objects.get(kind="draw").amount == D("304200.00")
    assert fund_balance(world.program.pk) == D("-104200.00")
    position = fund_position(Program.objects.filter(pk=world.program.pk))
    assert (position.top_ups, position.draws, position.recoveries, position.balance, position.unfunded) == (
        D("200000.00"),
        D("304200.00"),
        D("0.00"),
        D("-104200.00"),
        D("104200.00"),
    )

    # when 100,000.03 is recovered (the fund's part 30,000.01: 3,000,000.9 fen, a leftover fen)
    recovery_record(
        actor=world.bank,
        loan_id=world.loan.pk,
        amount=D("100000.03"),
        received_on=date(2025, 8, 15),
        source="x",
    )

    # then the liability shrinks to 74,199.99; the event keeps what was unfunded at its draw
    position = fund_position(Program.objects.filter(pk=world.program.pk))
    assert (position.recoveries, position.balance, position.unfunded) == (
        D("30000.01"),
        D("-74199.99"),
        D("74199.99"),
    )
    event.refresh_from_db()
    assert event.unfunded_amount == D("104200.00")

    # and a later top-up of 100,000.00 turns the balance positive: nothing is unfunded any more
    fund_top_up_record(
        actor=world.regulator,
        program_id=world.program.pk,
        amount=D("100000.00"),
        received_on=date(2025, 9, 1),
    )
    position = fund_position(Program.objects.filter(pk=world.program.pk))
    assert (position.balance, position.unfunded) == (D("25800.01"), D("0.00"))


def test_a_fund_with_enough_money_has_nothing_unfunded(world):
    fund_top_up_record(
        actor=world.regulator,
        program_id=world.program.pk,
        amount=D("304200.00"),
        received_on=date(2025, 6, 1),
    )

    event = declare_default(world)

    assert (event.fund_balance_before, event.unfunded_amount) == (D("304200.00"), D("0.00"))
    assert fund_balance(world.program.pk) == D("0.00")


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("bank", {"amount": "1.00", "received_on": "2025-06-01"}, 403),
        ("insurer", {"amount": "1.00", "received_on": "2025-06-01"}, 403),
        ("sme", {"amount": "1.00", "received_on": "2025-06-01"}, 403),
        ("platform", {"amount": "1.00", "received_on": "2025-06-01"}, 403),
        ("other_regulator", {"amount": "1.00", "received_on": "2025-06-01"}, 404),  # not its programme
        ("regulator", {"amount": "0.00", "received_on": "2025-06-01"}, 400),
        ("regulator", {"amount": "1e5", "received_on": "2025-06-01"}, 400),
        ("regulator", {"amount": "1.00", "received_on": "2099-06-01"}, 400),
        ("regulator", {"amount": "1.00"}, 400),
        ("regulator", {"amount": "1.00", "received_on": "2025-06-01", "program": 999999}, 404),
        ("regulator", {"amount": "1.00", "received_on": "2025-06-01", "program": "wuhan"}, 400),
        ("regulator", {"amount": "1.00", "received_on": "2025-06-01", "program": 10**30}, 400),
    ],
)
def test_refused_top_ups_change_nothing(world, who, body, status):
    before = risk_snapshot()

    response = client_for(getattr(world, who)).post(
        TOP_UPS_URL, {"program": world.program.pk, **body}, format="json"
    )

    assert response.status_code == status, response.json()
    assert risk_snapshot() == before


def test_the_top_up_date_may_be_today_but_not_tomorrow(world):
    today = timezone.localdate()
    ok = client_for(world.regulator).post(
        TOP_UPS_URL,
        {"program": world.program.pk, "amount": "1.00", "received_on": today.isoformat()},
        format="json",
    )
    late = client_for(world.regulator).post(
        TOP_UPS_URL,
        {
            "program": world.program.pk,
            "amount": "1.00",
            "received_on": (today + timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert (ok.status_code, late.status_code) == (201, 400)
    assert late.json()["code"] == "future_date"


# --- the loss threshold --------------------------------------------------------------------------


def test_losses_above_the_threshold_suspend_the_programme(defaulted):
    # given the standard loss of 1,014,000.00 and a threshold of 1,013,999.99 set afterwards
    world, _ = defaulted
    Program.objects.filter(pk=world.program.pk).update(loss_threshold_amount=D("1013999.99"), is_active=True)

    # when the threshold is checked
    suspended = program_loss_threshold_check(world.program, actor=world.regulator)

    # then the programme stops taking applications, with the reason in the audit trail
    assert suspended is True
    assert Program.objects.get(pk=world.program.pk).is_active is False
    row = AuditLog.objects.get(action="program.suspend")
    assert (row.object_id, row.from_state, row.to_state, row.amount) == (
        str(world.program.pk),
        "active",
        "suspended",
        LOSS,
    )
    assert row.reason == "Losses 1014000.00 exceed the loss threshold 1013999.99."
    # and a second check changes nothing more
    assert program_loss_threshold_check(world.program.pk) is False
    assert AuditLog.objects.filter(action="program.suspend").count() == 1
    # and an SME's new application is refused at submission (409 program_suspended)
    app = application_create(
        user=world.sme,
        program_id=world.program.pk,
        patent_ids=[PatentFactory(owner=world.sme.organization).pk],
        requested_amount=D("100000.00"),
        term_months=12,
        repayment_method="equal_principal",
        bank_id=world.bank.organization_id,
        insurer_id=world.insurer.organization_id,
        appraiser_id=world.loan.application.appraiser_id,
    )
    with pytest.raises(ProgramSuspended):
        application_submit(actor=world.sme, application_id=app.pk)


@pytest.mark.parametrize("threshold", [LOSS, None])
def test_losses_up_to_the_threshold_or_without_one_change_nothing(defaulted, threshold):
    # given the loss of 1,014,000.00 and a threshold of exactly that much, or none
    world, _ = defaulted
    Program.objects.filter(pk=world.program.pk).update(loss_threshold_amount=threshold, is_active=True)
    before = risk_snapshot()

    # when / then: "above" means strictly above
    assert program_loss_threshold_check(world.program) is False
    assert risk_snapshot() == before
