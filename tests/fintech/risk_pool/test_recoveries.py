"""Recoveries after default: split by the loss event's stored ratios with the largest-remainder
rule, the fund's part returned to it, the ledger and the audit trail (DOMAIN.md section 10)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from fintech.errors import AmountOverLimit, DatesOutOfOrder, FutureDate, InvalidInput, InvalidTransition
from fintech.models import AuditLog, FundMovement, Recovery
from fintech.selectors.risk_pool import loss_event_position
from fintech.services.ledger import (
    BANK_CASH,
    BANK_CREDIT_LOSS,
    FUND_CASH,
    FUND_LOSS_EXPENSE,
    INSURER_CASH,
    INSURER_CLAIMS_EXPENSE,
)
from fintech.services.risk_pool import recovery_parts, recovery_record
from tests.factories import OrganizationFactory

from .helpers import (
    BANK_SHARE,
    GOVERNMENT_SHARE,
    INSURER_SHARE,
    client_for,
    make_user,
    postings_of,
    risk_snapshot,
)

D = Decimal
pytestmark = pytest.mark.django_db
RATIOS = (D("0.50"), D("0.30"), D("0.20"))


def _recover(world, amount, on=date(2025, 8, 15), source="auction"):
    return recovery_record(
        actor=world.bank, loan_id=world.loan.pk, amount=D(amount), received_on=on, source=source
    )


def test_a_recovery_is_split_five_three_two_by_the_largest_remainder(defaulted):
    # given the standard loss of 1,014,000.00 (507,000.00 / 304,200.00 / 202,800.00)
    world, event = defaulted

    # when the bank records 100,000.03 through the API
    response = client_for(world.bank).post(
        f"/api/v1/loans/{world.loan.pk}/recoveries/",
        {"amount": "100000.03", "received_on": "2025-08-15", "source": "auction of the pledged patent"},
        format="json",
    )

    # then 10,000,003 fen x 0.5 / 0.3 / 0.2 = 5,000,001.5 / 3,000,000.9 / 2,000,000.6: floors
    # 5,000,001 + 3,000,000 + 2,000,000 leave two fen, which go to the largest remainders (.9 the
    # government, .6 the bank; the insurer's .5 is the smallest): 50,000.01 / 30,000.01 / 20,000.01
    assert response.status_code == 201, response.json()
    recovery = Recovery.objects.get()
    assert response.json() == {
        "id": recovery.pk,
        "loan": world.loan.pk,
        "amount": "100000.03",
        "received_on": "2025-08-15",
        "source": "auction of the pledged patent",
        "insurer_part": "50000.01",
        "government_part": "30000.01",
        "bank_part": "20000.01",
    }
    # and the fund's part flows back into the fund
    movement = FundMovement.objects.get(kind="recovery")
    assert (movement.amount, movement.on, movement.recovery_id, movement.loss_event_id) == (
        D("30000.01"),
        date(2025, 8, 15),
        recovery.pk,
        event.pk,
    )
    # and each party's cash is debited against its loss expense for its part
    assert postings_of(recovery, "recovery") == [
        (INSURER_CASH, INSURER_CLAIMS_EXPENSE, D("50000.01"), world.insurer.organization_id),
        (FUND_CASH, FUND_LOSS_EXPENSE, D("30000.01"), world.regulator.organization_id),
        (BANK_CASH, BANK_CREDIT_LOSS, D("20000.01"), world.bank.organization_id),
    ]
    row = AuditLog.objects.get(action="recovery.record")
    assert (row.actor, row.object_id, row.amount) == (world.bank, str(recovery.pk), D("100000.03"))


def test_recovered_and_net_per_party(defaulted):
    # given the standard loss
    world, event = defaulted
    # and 50,000.05: 5,000,005 fen x 0.5 / 0.3 / 0.2 = 2,500,002.5 / 1,500,001.5 / 1,000,001.0; one
    # fen left, the remainders tie at .5, and ties go insurer first: 25,000.03 / 15,000.01 / 10,000.01
    first = _recover(world, "50000.05")
    assert (first.insurer_part, first.government_part, first.bank_part) == (
        D("25000.03"),
        D("15000.01"),
        D("10000.01"),
    )
    # and 0.03: 3 fen = 1.5 / 0.9 / 0.6, floors 1 / 0 / 0, the two left over to .9 and .6
    second = _recover(world, "0.03", on=date(2025, 8, 16))
    assert (second.insurer_part, second.government_part, second.bank_part) == (
        D("0.01"),
        D("0.01"),
        D("0.01"),
    )

    # when the position is read
    position = loss_event_position(event)

    # then recovered = 25,000.04 / 15,000.02 / 10,000.02 and net = share - recovered
    assert (position.recovered.insurer, position.recovered.government, position.recovered.bank) == (
        D("25000.04"),
        D("15000.02"),
        D("10000.02"),
    )
    assert (position.net.insurer, position.net.government, position.net.bank) == (
        D("481999.96"),  # 507,000.00 - 25,000.04
        D("289199.98"),  # 304,200.00 - 15,000.02
        D("192799.98"),  # 202,800.00 - 10,000.02
    )
    assert (position.shares.insurer, position.shares.government, position.shares.bank) == (
        INSURER_SHARE,
        GOVERNMENT_SHARE,
        BANK_SHARE,
    )
    # and the loan's loss, as the API shows it to the insurer, says the same
    loss = client_for(world.insurer).get(f"/api/v1/loans/{world.loan.pk}/loss/").json()
    assert (loss["recovered"], loss["net"]) == (
        {"insurer": "25000.04", "government": "15000.02", "bank": "10000.02"},
        {"insurer": "481999.96", "government": "289199.98", "bank": "192799.98"},
    )


def test_a_recovery_never_gives_a_party_more_than_its_unrecovered_share():
    # given a loss of 0.03 split 5:3:2 = 0.01 / 0.01 / 0.01 (floors 1/0/0, leftover to .9 and .6)
    # and a first recovery of 0.02: 1.0 / 0.6 / 0.4 fen -> 0.01 / 0.01 / 0.00
    first = recovery_parts(D("0.02"), RATIOS, (D("0.01"), D("0.01"), D("0.01")))
    assert first == (D("0.01"), D("0.01"), D("0.00"))

    # when the last 0.01 comes in, whose plain split would go to the insurer (remainder .5)
    last = recovery_parts(D("0.01"), RATIOS, (D("0.00"), D("0.00"), D("0.01")))

    # then the insurer has nothing left to recover: the fen goes to the bank, still short of it
    assert last == (D("0.00"), D("0.00"), D("0.01"))


def test_recoveries_may_not_exceed_the_loss_and_a_refusal_changes_nothing(defaulted):
    # given 1,000,000.00 of the 1,014,000.00 loss already recovered: 14,000.00 remains
    world, _ = defaulted
    _recover(world, "1000000.00", on=date(2025, 8, 1))
    before = risk_snapshot()

    # when the bank reports 14,000.01 more
    response = client_for(world.bank).post(
        f"/api/v1/loans/{world.loan.pk}/recoveries/",
        {"amount": "14000.01", "received_on": "2025-08-02", "source": "b"},
        format="json",
    )

    # then 400 on amount, and nothing was written
    assert response.status_code == 400
    assert response.json()["code"] == "amount_over_limit"
    assert response.json()["fields"] == {"amount": ["At most 14000.00."]}
    assert risk_snapshot() == before
    with pytest.raises(AmountOverLimit):
        _recover(world, "14000.01", on=date(2025, 8, 2))
    # while exactly the rest is accepted, and then every share has come back
    _recover(world, "14000.00", on=date(2025, 8, 2))
    position = loss_event_position(defaulted[1])
    assert (position.net.insurer, position.net.government, position.net.bank) == (D("0.00"),) * 3


@pytest.mark.parametrize(
    ("amount", "received_on", "error"),
    [
        (D("0.00"), date(2025, 8, 1), InvalidInput),
        (D("1.00"), date(2025, 6, 30), DatesOutOfOrder),  # the day before the default
        (D("1.00"), None, FutureDate),  # tomorrow
    ],
)
def test_bad_amounts_and_dates_are_refused(defaulted, amount, received_on, error):
    world, _ = defaulted
    received_on = received_on or timezone.localdate() + timedelta(days=1)
    before = risk_snapshot()

    with pytest.raises(error):
        recovery_record(
            actor=world.bank, loan_id=world.loan.pk, amount=amount, received_on=received_on, source="x"
        )

    assert risk_snapshot() == before


def test_bad_input_over_the_api_is_a_400(defaulted):
    world, _ = defaulted
    before = risk_snapshot()
    client = client_for(world.bank)
    url = f"/api/v1/loans/{world.loan.pk}/recoveries/"

    for body in (
        {"amount": "1e3", "received_on": "2025-08-01", "source": "x"},
        {"amount": "-1.00", "received_on": "2025-08-01", "source": "x"},
        {"amount": "1.001", "received_on": "2025-08-01", "source": "x"},
        {"amount": "1.00", "received_on": "2025-06-30", "source": "x"},
        {"amount": "1.00", "received_on": "2025-08-01"},
    ):
        response = client.post(url, body, format="json")
        assert response.status_code == 400, body
        assert set(response.json()) >= {"code", "message", "fields"}

    assert risk_snapshot() == before


def test_only_the_loans_bank_records_recoveries(defaulted):
    world, _ = defaulted
    before = risk_snapshot()
    url = f"/api/v1/loans/{world.loan.pk}/recoveries/"
    body = {"amount": "1.00", "received_on": "2025-08-01", "source": "x"}

    # the insurer and the regulator see the loan but may not record (403); the SME neither
    assert client_for(world.insurer).post(url, body, format="json").status_code == 403
    assert client_for(world.regulator).post(url, body, format="json").status_code == 403
    assert client_for(world.sme).post(url, body, format="json").status_code == 403
    # another bank does not even see it (404)
    stranger = make_user(OrganizationFactory(kind="bank"))
    assert client_for(stranger).post(url, body, format="json").status_code == 404
    assert risk_snapshot() == before


def test_a_loan_that_has_not_defaulted_has_no_recoveries(world):
    # given an active loan
    before = risk_snapshot()

    # when the bank reports a recovery
    response = client_for(world.bank).post(
        f"/api/v1/loans/{world.loan.pk}/recoveries/",
        {"amount": "1.00", "received_on": "2025-08-01", "source": "x"},
        format="json",
    )

    # then 409: the loan's state forbids it, and nothing was written
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    assert risk_snapshot() == before
    with pytest.raises(InvalidTransition):
        _recover(world, "1.00", on=date(2025, 8, 1))


def test_a_replayed_recovery_is_recorded_once(defaulted):
    world, _ = defaulted
    client = client_for(world.bank)
    url = f"/api/v1/loans/{world.loan.pk}/recoveries/"
    body = {"amount": "10.00", "received_on": "2025-08-01", "source": "x"}

    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rec-1")
    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="rec-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Recovery.objects.count() == 1


@pytest.mark.parametrize(
    ("amount", "parts"),
    [
        # 10,000,001 fen x 0.5 / 0.3 / 0.2 = 5,000,000.5 / 3,000,000.3 / 2,000,000.2: one fen left,
        # to the largest remainder (.5, the insurer)
        (D("100000.01"), (D("50000.01"), D("30000.00"), D("20000.00"))),
        # 259 fen = 129.5 / 77.7 / 51.8: floors 129 / 77 / 51, two fen left, to .8 (bank), .7 (fund)
        (D("2.59"), (D("1.29"), D("0.78"), D("0.52"))),
    ],
)
def test_parts_that_do_not_add_up_in_binary_floating_point_are_recorded(defaulted, amount, parts):
    # given the standard loss, and a recovery whose parts, added as binary floats, miss the whole
    # (50,000.01 + 30,000.00 + 20,000.00 gives 100,000.01000000001)
    world, _ = defaulted

    # when the bank records it
    recovery = _recover(world, amount, on=date(2025, 8, 1))

    # then it is split exactly and stored
    assert (recovery.insurer_part, recovery.government_part, recovery.bank_part) == parts
    assert Recovery.objects.get().amount == amount
