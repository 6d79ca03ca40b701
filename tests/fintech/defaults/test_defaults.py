"""A bank declares a default (POST /loans/{id}/default/): the loss of DOMAIN.md section 10 worked by
hand for each repayment method, its 5:3:2 split by the largest-remainder rule (section 5), the
fund's draw, the ledger entry, the transitions, and what is refused (GET /loans/{id}/loss/)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from fintech.errors import ProgramSuspended
from fintech.models import (
    AuditLog,
    FundMovement,
    JournalEntry,
    LossEvent,
    Program,
    Recovery,
    Region,
)
from fintech.services.applications import application_create, application_submit
from fintech.services.repayments import repayment_record
from tests.builders import active_loan
from tests.factories import OrganizationFactory, PatentFactory, UserFactory, wuhan_program
from tests.fintech.close.conftest import snapshot

D = Decimal
pytestmark = pytest.mark.django_db

RATE = D("0.0435")


def _pay(loan: Any, people: Any, amount: str, on: date = date(2025, 3, 20)) -> None:
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=D(amount), paid_on=on)


def _declare(client_for: Any, user: Any, loan: Any, declared_on: str = "2025-05-05", **extra: Any) -> Any:
    body = {"declared_on": declared_on, "reason": "Borrower ceased trading."}
    return client_for(user).post(f"/api/v1/loans/{loan.pk}/default/", body, format="json", **extra)


def _loss(client_for: Any, user: Any, loan: Any) -> Any:
    return client_for(user).get(f"/api/v1/loans/{loan.pk}/loss/")


def _parts(insurer: str, government: str, bank: str) -> dict[str, str]:
    return {"insurer": insurer, "government": government, "bank": bank}


# --- the loss, worked by hand, for each repayment method -----------------------------------------


def test_loss_interest_monthly_principal_at_maturity(client_for):
    # given 1,000,000.00 at 4.35 % for 12 months, interest monthly and principal at maturity,
    # disbursed 2025-02-20. Installment 1 (02-20 -> 03-20, 28 days): 1,000,000 x 0.0435 x 28 / 360
    # = 3,383.333... -> 3,383.33 interest, paid on 03-20. Installment 2 (03-20 -> 04-20, 31 days):
    # 1,000,000 x 0.0435 x 31 / 360 = 3,745.833... -> 3,745.83, unpaid.
    loan, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    _pay(loan, people, "3383.33")

    # when its bank declares the default on 2025-05-05, in the middle of installment 3 (04-20 -> 05-20)
    response = _declare(client_for, people.bank, loan)

    # then the loan is defaulted on that date
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["id"], body["status"], body["defaulted_on"]) == (loan.pk, "defaulted", "2025-05-05")
    # and the loss = unpaid principal 1,000,000.00 (no principal was due yet)
    #   + unpaid interest of the installments due by 05-05: installment 2, 3,745.83
    #   + interest accrued from the last due date (04-20) to 05-05, 15 days, on the scheduled
    #     principal after installment 2 (1,000,000.00): 1,000,000 x 0.0435 x 15 / 360 = 1,812.50
    #   = 1,005,558.33
    event = LossEvent.objects.get(loan=loan)
    assert (event.unpaid_principal, event.unpaid_interest, event.accrued_interest, event.loss_amount) == (
        D("1000000.00"),
        D("3745.83"),
        D("1812.50"),
        D("1005558.33"),
    )
    # split 5:3:2 in fen: 100,555,833 x 0.5 = 50,277,916.5; x 0.3 = 30,166,749.9; x 0.2 = 20,111,166.6.
    # The floors leave 2 fen, for the largest remainders: .9 (government), then .6 (bank).
    assert (event.insurer_share, event.government_share, event.bank_share) == (
        D("502779.16"),
        D("301667.50"),
        D("201111.67"),
    )
    # with the ratios in force stored on the event
    assert (event.insurer_ratio, event.government_ratio, event.bank_ratio) == (D("0.5"), D("0.3"), D("0.2"))
    assert (event.default_on, event.declared_by, event.reason) == (
        date(2025, 5, 5),
        people.bank,
        "Borrower ceased trading.",
    )
    # and the loss as the parties read it, money as strings; nothing recovered yet
    assert _loss(client_for, people.insurer, loan).json() == {
        "default_on": "2025-05-05",
        "loss_amount": "1005558.33",
        "shares": _parts("502779.16", "301667.50", "201111.67"),
        "recovered": _parts("0.00", "0.00", "0.00"),
        "net": _parts("502779.16", "301667.50", "201111.67"),
    }


def test_loss_equal_principal(client_for):
    # given 1,000,000.00 at 4.35 % for 12 months, equal principal: round(1,000,000 / 12) = 83,333.33 a
    # month. Installment 1: 3,383.33 interest (as above) + 83,333.33 = 86,716.66, paid on 03-20.
    # Installment 2 (31 days) on 916,666.67: 916,666.67 x 0.0435 x 31 / 360 = 3,433.6805... -> 3,433.68.
    loan, people = active_loan(annual_rate=RATE, method="equal_principal")
    _pay(loan, people, "86716.66")

    # when its bank declares the default on 2025-05-05
    response = _declare(client_for, people.bank, loan)

    # then the loss = unpaid principal 1,000,000.00 - 83,333.33 = 916,666.67
    #   + unpaid interest of installment 2: 3,433.68
    #   + accrued 04-20 -> 05-05 (15 days) on the scheduled principal after installment 2,
    #     1,000,000.00 - 2 x 83,333.33 = 833,333.34:
    #     833,333.34 x 0.0435 x 15 / 360 = 1,510.4166... -> 1,510.42
    #   = 921,610.77
    assert response.status_code == 200, response.json()
    event = LossEvent.objects.get(loan=loan)
    assert (event.unpaid_principal, event.unpaid_interest, event.accrued_interest, event.loss_amount) == (
        D("916666.67"),
        D("3433.68"),
        D("1510.42"),
        D("921610.77"),
    )
    # split: 92,161,077 fen x 0.5 = 46,080,538.5; x 0.3 = 27,648,323.1; x 0.2 = 18,432,215.4; one fen
    # left, for the largest remainder .5 (insurer)
    assert _loss(client_for, people.bank, loan).json() == {
        "default_on": "2025-05-05",
        "loss_amount": "921610.77",
        "shares": _parts("460805.39", "276483.23", "184322.15"),
        "recovered": _parts("0.00", "0.00", "0.00"),
        "net": _parts("460805.39", "276483.23", "184322.15"),
    }


def test_loss_equal_installment(client_for):
    # given 1,000,000.00 at 4.35 % for 12 months, equal installment: i = 0.0435 / 12 = 0.003625,
    # (1 + i)^12 = 1.0443778468709..., A = round(1,000,000 x i x 1.04437... / 0.04437...) = 85,309.90.
    # Installment 1: interest round(1,000,000 x 0.003625) = 3,625.00, principal 81,684.90; paid on 03-20.
    # Installment 2: interest round(918,315.10 x 0.003625 = 3,328.892...) = 3,328.89, principal
    # 85,309.90 - 3,328.89 = 81,981.01.
    loan, people = active_loan(annual_rate=RATE, method="equal_installment")
    _pay(loan, people, "85309.90")

    # when its bank declares the default on 2025-05-05
    response = _declare(client_for, people.bank, loan)

    # then the loss = unpaid principal 1,000,000.00 - 81,684.90 = 918,315.10
    #   + unpaid interest of installment 2: 3,328.89
    #   + accrued 04-20 -> 05-05 (15 days, actual/360 whatever the method) on the scheduled principal
    #     after installment 2, 918,315.10 - 81,981.01 = 836,334.09:
    #     836,334.09 x 0.0435 x 15 / 360 = 1,515.855... -> 1,515.86
    #   = 923,159.85
    assert response.status_code == 200, response.json()
    event = LossEvent.objects.get(loan=loan)
    assert (event.unpaid_principal, event.unpaid_interest, event.accrued_interest, event.loss_amount) == (
        D("918315.10"),
        D("3328.89"),
        D("1515.86"),
        D("923159.85"),
    )
    # split: 92,315,985 fen x 0.5 = 46,157,992.5; x 0.3 = 27,694,795.5; x 0.2 = 18,463,197; one fen
    # left and a tie of .5 between insurer and government: the tie goes to the insurer
    assert _loss(client_for, people.sme, loan).json() == {
        "default_on": "2025-05-05",
        "loss_amount": "923159.85",
        "shares": _parts("461579.93", "276947.95", "184631.97"),
        "recovered": _parts("0.00", "0.00", "0.00"),
        "net": _parts("461579.93", "276947.95", "184631.97"),
    }


def test_default_before_the_first_due_date_accrues_from_disbursement(client_for):
    # given 1,000,000.00 at 4.35 %, interest monthly, disbursed 2025-02-20, nothing due yet
    loan, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")

    # when the bank declares the default on 2025-03-10 (18 days after disbursement)
    assert _declare(client_for, people.bank, loan, "2025-03-10").status_code == 200

    # then no installment was due: the loss = 1,000,000.00 + 0.00
    #   + 1,000,000 x 0.0435 x 18 / 360 = 2,175.00 accrued from the disbursement date = 1,002,175.00,
    # split 501,087.50 / 300,652.50 / 200,435.00 (exact in fen)
    event = LossEvent.objects.get(loan=loan)
    assert (event.unpaid_principal, event.unpaid_interest, event.accrued_interest, event.loss_amount) == (
        D("1000000.00"),
        D("0.00"),
        D("2175.00"),
        D("1002175.00"),
    )
    assert (event.insurer_share, event.government_share, event.bank_share) == (
        D("501087.50"),
        D("300652.50"),
        D("200435.00"),
    )


# --- what a default writes -----------------------------------------------------------------------


def test_default_transitions_fund_draw_ledger_and_audit(client_for):
    # given the interest-monthly loan above (loss 1,005,558.33, government share 301,667.50), a
    # regulator keeping Wuhan's fund, and a fund topped up with 100,000.00
    loan, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    _pay(loan, people, "3383.33")
    regulator = OrganizationFactory(kind="regulator")
    FundMovement.objects.create(
        program=loan.program, kind="top_up", amount=D("100000.00"), on=date(2025, 1, 2)
    )

    # when the bank declares the default on 2025-05-05
    assert _declare(client_for, people.bank, loan).status_code == 200

    # then the application is defaulted and the policy claimed
    loan.refresh_from_db()
    assert (loan.status, loan.defaulted_on, loan.application.status, loan.policy.status) == (
        "defaulted",
        date(2025, 5, 5),
        "defaulted",
        "claimed",
    )
    # and the fund drew the government share: 100,000.00 before, so 301,667.50 - 100,000.00 =
    # 201,667.50 is an unfunded liability (recorded, not lost)
    event = LossEvent.objects.get(loan=loan)
    assert (event.fund_balance_before, event.unfunded_amount) == (D("100000.00"), D("201667.50"))
    draw = FundMovement.objects.get(kind="draw")
    assert (draw.program_id, draw.amount, draw.on, draw.loss_event_id) == (
        loan.program_id,
        D("301667.50"),
        date(2025, 5, 5),
        event.pk,
    )
    # and one ledger entry "loss": principal 1,000,000.00 and interest 3,745.83 + 1,812.50 = 5,558.33
    # into clearing, cleared by the three shares; the insurer's and the fund's expense on their books
    entry = JournalEntry.objects.get(kind="loss")
    assert (entry.booked_on, entry.loan_id, entry.source_id) == (date(2025, 5, 5), loan.pk, str(event.pk))
    legs = [
        (p.debit_account_id, p.credit_account_id, p.amount, p.organization_id)
        for p in entry.postings.order_by("id")
    ]
    bank, insurer = loan.bank_id, loan.policy.insurer_id
    assert legs == [
        ("1201", "1101", D("1000000.00"), bank),
        ("1201", "4001", D("5558.33"), bank),
        ("1202", "1201", D("502779.16"), bank),
        ("1203", "1201", D("301667.50"), bank),
        ("5001", "1201", D("201111.67"), bank),
        ("5002", "2001", D("502779.16"), insurer),
        ("5003", "2002", D("301667.50"), regulator.pk),
    ]
    # and every change is audited with the bank user as actor
    rows = AuditLog.objects.filter(
        action__in=["loss.record", "fund.draw", "loan.default", "application.default", "policy.claim"]
    ).order_by("id")
    assert [(r.action, r.from_state, r.to_state, r.actor_id) for r in rows] == [
        ("loss.record", "", "", people.bank.pk),
        ("fund.draw", "", "", people.bank.pk),
        ("loan.default", "active", "defaulted", people.bank.pk),
        ("application.default", "active", "defaulted", people.bank.pk),
        ("policy.claim", "active", "claimed", people.bank.pk),
    ]


def test_a_second_draw_beyond_an_empty_fund_is_wholly_unfunded(client_for):
    # given the fund's balance already negative: 100,000.00 topped up, 301,667.50 drawn -> -201,667.50
    first, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    _pay(first, people, "3383.33")
    FundMovement.objects.create(
        program=first.program, kind="top_up", amount=D("100000.00"), on=date(2025, 1, 2)
    )
    assert _declare(client_for, people.bank, first).status_code == 200
    second, people2 = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")

    # when a second loan defaults on 2025-03-10 (loss 1,002,175.00, government share 300,652.50)
    assert _declare(client_for, people2.bank, second, "2025-03-10").status_code == 200

    # then the balance before was -201,667.50 and the whole share is unfunded:
    # max(0, 300,652.50 - max(-201,667.50, 0)) = 300,652.50
    event = LossEvent.objects.get(loan=second)
    assert (event.fund_balance_before, event.unfunded_amount) == (D("-201667.50"), D("300652.50"))


def test_losses_above_the_threshold_suspend_the_programme(client_for):
    # given the programme's loss threshold at 1,000,000.00
    Program.objects.filter(code="wuhan").update(loss_threshold_amount=D("1000000.00"))
    loan, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    _pay(loan, people, "3383.33")

    # when a default brings the programme's losses to 1,005,558.33
    assert _declare(client_for, people.bank, loan).status_code == 200

    # then the programme stops taking applications, audited
    program = wuhan_program()
    assert program.is_active is False
    row = AuditLog.objects.get(action="program.suspend")
    assert (row.object_id, row.from_state, row.to_state, row.amount) == (
        str(program.pk),
        "active",
        "suspended",
        D("1005558.33"),
    )
    # and a new application is refused at submission with program_suspended (409)
    app = application_create(
        user=people.sme,
        program_id=program.pk,
        patent_ids=[PatentFactory(owner=people.sme.organization).pk],
        requested_amount=D("500000.00"),
        term_months=12,
        repayment_method="equal_principal",
        bank_id=people.bank.organization_id,
        insurer_id=people.insurer.organization_id,
        appraiser_id=people.appraiser.organization_id,
    )
    with pytest.raises(ProgramSuspended):
        application_submit(actor=people.sme, application_id=app.pk)


def test_a_replayed_declaration_returns_the_first_response(client_for):
    # given an active loan
    loan, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")

    # when the bank sends the same declaration twice with one Idempotency-Key
    first = _declare(client_for, people.bank, loan, "2025-03-10", HTTP_IDEMPOTENCY_KEY="default-1")
    again = _declare(client_for, people.bank, loan, "2025-03-10", HTTP_IDEMPOTENCY_KEY="default-1")

    # then the second is the first's answer, and one loss was recorded
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert LossEvent.objects.filter(loan=loan).count() == 1


# --- refused declarations change nothing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("declared_on", "code", "field"),
    [
        ("2999-01-01", "future_date", "declared_on"),
        ("2025-02-19", "dates_out_of_order", "declared_on"),  # the day before disbursement
        ("2025-03-19", "dates_out_of_order", "declared_on"),  # before the repayment of 2025-03-20
        ("2025-13-01", "invalid", "declared_on"),
    ],
)
def test_bad_dates_are_refused_and_nothing_changes(client_for, declared_on, code, field):
    # given a loan with a repayment value-dated 2025-03-20
    loan, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    _pay(loan, people, "3383.33")
    before = snapshot()

    # when the bank declares a default on a date out of the flow
    response = _declare(client_for, people.bank, loan, declared_on)

    # then 400 on declared_on, and nothing was written
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["fields"])) == (code, [field])
    assert snapshot() == before


def test_other_parties_may_not_declare_and_nothing_changes(client_for):
    # given an active loan, its insurer, and another bank
    loan, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    other_bank = UserFactory(organization=OrganizationFactory(kind="bank"))
    before = snapshot()

    # when the insurer or another bank declares a default
    by_insurer = _declare(client_for, people.insurer, loan)
    by_other_bank = _declare(client_for, other_bank, loan)

    # then 403 for the insurer (it sees the loan), 404 for the other bank (it does not), nothing written
    assert (by_insurer.status_code, by_insurer.json()["code"]) == (403, "permission_denied")
    assert (by_other_bank.status_code, by_other_bank.json()["code"]) == (404, "not_found")
    assert snapshot() == before


def test_a_defaulted_or_settled_loan_cannot_default_and_nothing_changes(client_for):
    # given a defaulted loan and a settled one
    defaulted, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    assert _declare(client_for, people.bank, defaulted, "2025-03-10").status_code == 200
    settled, people2 = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    owed = sum((i.principal_due + i.interest_due for i in settled.installments.all()), D("0.00"))
    _pay(settled, people2, f"{owed:.2f}")
    before = snapshot()

    # when their banks declare a default
    again = _declare(client_for, people.bank, defaulted, "2025-03-11")
    on_settled = _declare(client_for, people2.bank, settled, "2025-03-21")

    # then 409 naming the state, and nothing was written
    assert (again.status_code, again.json()["code"]) == (409, "invalid_state")
    assert again.json()["message"] == "无法认定违约：该记录的状态为“已违约”。"  # noqa: RUF001
    assert (on_settled.status_code, on_settled.json()["code"]) == (409, "invalid_state")
    assert on_settled.json()["message"] == "无法认定违约：该记录的状态为“已结清”。"  # noqa: RUF001
    assert snapshot() == before


# --- reading the loss ----------------------------------------------------------------------------


def test_the_loss_nets_recoveries_and_is_shown_to_the_loans_parties_only(client_for):
    # given the interest-monthly default above (shares 502,779.16 / 301,667.50 / 201,111.67) and a
    # recovery of 100,000.00 split 50,000.00 / 30,000.00 / 20,000.00
    loan, people = active_loan(annual_rate=RATE, method="interest_monthly_principal_at_maturity")
    _pay(loan, people, "3383.33")
    assert _declare(client_for, people.bank, loan).status_code == 200
    Recovery.objects.create(
        loss_event=loan.loss_event,
        amount=D("100000.00"),
        received_on=date(2025, 6, 1),
        source="patent licence",
        insurer_part=D("50000.00"),
        government_part=D("30000.00"),
        bank_part=D("20000.00"),
        recorded_by=people.bank,
    )
    regulator = UserFactory(organization=OrganizationFactory(kind="regulator"))
    elsewhere = UserFactory(
        organization=OrganizationFactory(kind="regulator", region=Region.objects.get(code="420200"))
    )
    platform = UserFactory(organization=OrganizationFactory(kind="platform"), is_staff=True)
    appraiser = people.appraiser

    # when the loan's parties, a regulator of Wuhan, the platform and outsiders read the loss
    expected = {
        "default_on": "2025-05-05",
        "loss_amount": "1005558.33",
        "shares": _parts("502779.16", "301667.50", "201111.67"),
        "recovered": _parts("50000.00", "30000.00", "20000.00"),
        # net = share - recovered: 502,779.16 - 50,000.00; 301,667.50 - 30,000.00; 201,111.67 - 20,000.00
        "net": _parts("452779.16", "271667.50", "181111.67"),
    }
    # then each party sees the same figures
    for reader in (people.bank, people.insurer, people.sme, regulator, platform):
        response = _loss(client_for, reader, loan)
        assert (response.status_code, response.json()) == (200, expected), reader.role
    # and a regulator of another region gets 404, an appraiser 403
    assert _loss(client_for, elsewhere, loan).status_code == 404
    assert _loss(client_for, appraiser, loan).status_code == 403


def test_no_loss_before_a_default(client_for):
    # given an active loan
    loan, people = active_loan()
    # when its bank asks for the loss, then 404: there is none
    response = _loss(client_for, people.bank, loan)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
