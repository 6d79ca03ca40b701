"""The risk-pool screens: claims for insurers, banks and regulators, settlement approval by a
second person, the risk fund with its top-up; each action calls the same service as the API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from fintech.models import FundMovement, Recovery, Settlement
from fintech.services.risk_pool import fund_top_up_record, settlement_record

from .helpers import risk_snapshot

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admin_settings(settings: Any) -> None:
    # The admin links static files; without DEBUG the manifest storage needs collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def login(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def listed(response) -> list[int]:
    return [obj.pk for obj in response.context["cl"].result_list]


def flashed(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def action_url(model: str, pk: int, action: str) -> str:
    return reverse(f"admin:fintech_{model}_risk_action", args=[pk, action])


def test_claims_are_listed_for_the_parties_of_the_loss_only(defaulted):
    world, event = defaulted
    url = reverse("admin:fintech_lossevent_changelist")

    for user in (world.insurer, world.bank, world.regulator, world.platform):
        response = login(user).get(url)
        assert response.status_code == 200
        assert listed(response) == [event.pk]
    assert listed(login(world.other_insurer).get(url)) == []
    assert listed(login(world.other_regulator).get(url)) == []
    assert login(world.sme).get(url).status_code == 302  # an SME user is not staff: the login page


def test_the_claim_page_shows_shares_recoveries_and_the_actions_of_the_viewer(defaulted):
    world, event = defaulted
    change = reverse("admin:fintech_lossevent_change", args=[event.pk])

    page = login(world.insurer).get(change).content.decode()
    assert "507,000.00" in page and "304,200.00" in page and "202,800.00" in page
    assert action_url("lossevent", event.pk, "record-settlement") in page
    assert action_url("lossevent", event.pk, "record-recovery") not in page
    bank_page = login(world.bank).get(change).content.decode()
    assert action_url("lossevent", event.pk, "record-recovery") in bank_page
    assert action_url("lossevent", event.pk, "record-settlement") not in bank_page


def test_the_insurer_records_a_settlement_and_a_colleague_approves_it(defaulted):
    world, event = defaulted

    # when the insurer records 200,000.00 on the claim screen (the form offers what is open)
    client = login(world.insurer)
    form = client.get(action_url("lossevent", event.pk, "record-settlement"))
    assert form.status_code == 200
    assert form.context["form"].initial == {"amount": D("507000.00")}
    response = client.post(
        action_url("lossevent", event.pk, "record-settlement"),
        {"amount": "200000.00", "paid_on": "2025-08-20", "reference": "CLM-9"},
    )

    # then a pending settlement of the insurer's share exists
    assert response.status_code == 302
    settlement = Settlement.objects.get()
    assert (settlement.party, settlement.amount, settlement.status, settlement.created_by) == (
        "insurer",
        D("200000.00"),
        "pending",
        world.insurer,
    )
    # and its recorder is not offered the approval, and is refused it
    page = client.get(reverse("admin:fintech_settlement_change", args=[settlement.pk])).content.decode()
    assert action_url("settlement", settlement.pk, "approve") not in page
    assert client.post(action_url("settlement", settlement.pk, "approve")).status_code == 403

    # when a second member of the insurer approves it
    colleague = login(world.insurer_2)
    assert (
        action_url("settlement", settlement.pk, "approve")
        in colleague.get(reverse("admin:fintech_settlement_change", args=[settlement.pk])).content.decode()
    )
    approved = colleague.post(action_url("settlement", settlement.pk, "approve"))

    # then it is approved by that person
    assert approved.status_code == 302
    settlement.refresh_from_db()
    assert (settlement.status, settlement.approved_by) == ("approved", world.insurer_2)
    assert flashed(approved)[-1] == ("success", "Settlement CLM-9 of 200,000.00 approved.")


def test_a_regulator_records_the_funds_settlement(defaulted):
    world, event = defaulted

    login(world.regulator).post(
        action_url("lossevent", event.pk, "record-settlement"),
        {"amount": "304200.00", "paid_on": "2025-08-20", "reference": "FUND-9"},
    )

    assert list(Settlement.objects.values_list("party", "payer", "amount")) == [
        ("government", world.regulator.organization_id, D("304200.00"))
    ]


def test_the_bank_records_a_recovery_and_a_refused_one_changes_nothing(defaulted):
    world, event = defaulted
    client = login(world.bank)
    url = action_url("lossevent", event.pk, "record-recovery")

    # when the bank records 100,000.03 (50,000.01 / 30,000.01 / 20,000.01)
    done = client.post(url, {"amount": "100000.03", "received_on": "2025-08-15", "source": "auction"})
    assert done.status_code == 302
    assert flashed(done) == [
        (
            "success",
            "Recovery of 100,000.03 recorded: insurer 50,000.01, government fund 30,000.01, bank 20,000.01.",
        )
    ]
    assert list(Recovery.objects.values_list("insurer_part", "government_part", "bank_part")) == [
        (D("50000.01"), D("30000.01"), D("20000.01"))
    ]
    before = risk_snapshot()

    # when it then reports more than is left of the loss (913,999.97)
    refused = client.post(url, {"amount": "913999.98", "received_on": "2025-08-16", "source": "again"})

    # then the service's message is shown and nothing changed
    assert refused.status_code == 302
    assert flashed(refused)[-1] == (
        "error",
        "Recoveries may not exceed the loss: 913999.97 is unrecovered; 913999.98 is more.",
    )
    assert risk_snapshot() == before
    # and the insurer may not even open the bank's action
    assert login(world.insurer).get(url).status_code == 403


def test_the_regulator_sees_the_fund_and_tops_it_up(defaulted):
    world, _ = defaulted
    changelist = reverse("admin:fintech_fundmovement_changelist")
    top_up = reverse("admin:fintech_fundmovement_top_up")

    # when the regulator opens the fund: the draw of 304,200.00 left it 304,200.00 short
    page = login(world.regulator).get(changelist)
    assert page.status_code == 200
    [(program, fund)] = page.context["funds"]
    assert (program, fund.balance, fund.unfunded) == (world.program, D("-304200.00"), D("304200.00"))
    assert top_up in page.content.decode()

    # when it records a top-up of 500,000.00
    response = login(world.regulator).post(
        top_up, {"program": world.program.pk, "amount": "500000.00", "received_on": "2025-09-01"}
    )

    # then the fund holds 195,800.00
    assert response.status_code == 302
    assert FundMovement.objects.filter(kind="top_up").get().amount == D("500000.00")
    [(_, fund)] = login(world.regulator).get(changelist).context["funds"]
    assert (fund.balance, fund.unfunded) == (D("195800.00"), D("0.00"))
    # and another region's regulator sees no movement and may not top this programme up
    other = login(world.other_regulator)
    assert listed(other.get(changelist)) == []
    assert other.get(changelist).context["funds"] == []
    before = risk_snapshot()
    refused = other.post(top_up, {"program": world.program.pk, "amount": "1.00", "received_on": "2025-09-01"})
    assert refused.status_code == 200  # the form: that programme is not among its choices
    assert "program" in refused.context["form"].errors
    assert risk_snapshot() == before
    assert login(world.bank).get(top_up).status_code == 403


def test_settlements_and_recoveries_lists_are_scoped(defaulted):
    world, _ = defaulted
    settlement = settlement_record(
        actor=world.insurer, loan_id=world.loan.pk, party="insurer", amount=D("1.00"),
        paid_on=date(2025, 8, 20), reference="S",
    )  # fmt: skip
    fund_top_up_record(
        actor=world.regulator, program_id=world.program.pk, amount=D("1.00"), received_on=date(2025, 9, 1)
    )
    url = reverse("admin:fintech_settlement_changelist")

    assert listed(login(world.insurer).get(url)) == [settlement.pk]
    assert listed(login(world.bank).get(url)) == [settlement.pk]  # paid to it
    assert listed(login(world.regulator).get(url)) == [settlement.pk]  # its region
    assert listed(login(world.other_insurer).get(url)) == []
    assert (
        login(world.other_insurer)
        .get(reverse("admin:fintech_settlement_change", args=[settlement.pk]))
        .status_code
        == 302
    )
    assert login(world.bank).get(reverse("admin:fintech_recovery_changelist")).status_code == 200
