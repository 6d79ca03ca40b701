"""The Idempotency-Key header on POSTs that move money or state (API.md "Conventions"): a replay
returns the first response and writes nothing more; the key with another body is a 409; keys are
per user."""

from __future__ import annotations

from typing import Any

from fintech.models import IdempotencyKey, Loan, PremiumPayment

from .helpers import (
    Party,
    World,
    add_user,
    advance,
    approve_body,
    refused,
    snapshot,
)


def _post(party: Party, path: str, body: dict[str, Any], key: str) -> Any:
    return party.client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _replayed(first: Any, again: Any) -> None:
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again.content == first.content  # the very same bytes, key order included
    assert again["Idempotent-Replayed"] == "true"


def test_premium_payment_replayed(world: World) -> None:
    # given an issued policy (premium 20,000.00) and a first payment of 8,000.00 sent with a key
    case = advance(world, "bank_review")
    path, body = (
        f"/api/v1/policies/{case.policy_id}/premium-payments/",
        {"amount": "8000.00", "paid_on": "2025-02-10"},
    )
    first = _post(world.insurer, path, body, "premium-2025-02-10")
    assert first.status_code == 201, first.content
    after_first = snapshot()
    # when the insurer's system sends it again (a timeout, a retry)
    again = _post(world.insurer, path, body, "premium-2025-02-10")
    # then the same answer, and still one payment of 8,000.00
    _replayed(first, again)
    assert snapshot() == after_first
    assert [str(p.amount) for p in PremiumPayment.objects.all()] == ["8000.00"]
    assert again.json()["policy"]["premium_paid_amount"] == "8000.00"


def test_approve_replayed(world: World) -> None:
    # given an application in review, approved with a key
    case = advance(world, "bank_review")
    path = f"/api/v1/applications/{case.application}/approve/"
    first = _post(world.bank, path, approve_body(), "approve-1")
    assert first.status_code == 201, first.content
    after_first = snapshot()
    # when the approval is replayed
    again = _post(world.bank, path, approve_body(), "approve-1")
    # then the first answer (a 201, not the 409 of a second approval), one loan, nothing written
    _replayed(first, again)
    assert again.json()["loan"]["id"] == Loan.objects.get().pk
    assert snapshot() == after_first


def test_disburse_replayed(world: World) -> None:
    # given an approved loan, premium paid and pledge registered, disbursed with a key
    case = advance(world, "approved", premium_paid=True, pledged=True)
    path = f"/api/v1/loans/{case.loan}/disburse/"
    first = _post(world.bank, path, {"disbursed_on": "2025-02-20"}, "disburse-1")
    assert first.status_code == 200, first.content
    after_first = snapshot()
    # when it is replayed
    again = _post(world.bank, path, {"disbursed_on": "2025-02-20"}, "disburse-1")
    # then the first answer, and the schedule built once (12 installments)
    _replayed(first, again)
    assert snapshot() == after_first
    assert after_first["counts"]["Installment"] == 12


def test_same_key_with_another_body_is_409(world: World) -> None:
    # given a premium payment of 8,000.00 recorded with a key
    case = advance(world, "bank_review")
    path = f"/api/v1/policies/{case.policy_id}/premium-payments/"
    assert (
        _post(world.insurer, path, {"amount": "8000.00", "paid_on": "2025-02-10"}, "k-1").status_code == 201
    )
    before = snapshot()
    # when the same key comes with 12,000.00
    r = _post(world.insurer, path, {"amount": "12000.00", "paid_on": "2025-02-10"}, "k-1")
    # then
    assert refused(r, 409) == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was used with a different request.",
    }
    assert snapshot() == before


def test_same_key_on_another_endpoint_is_409(world: World) -> None:
    # given an approval sent with a key
    case = advance(world, "bank_review")
    assert (
        _post(
            world.bank, f"/api/v1/applications/{case.application}/approve/", approve_body(), "k-2"
        ).status_code
        == 201
    )
    loan = Loan.objects.get()
    before = snapshot()
    # when the bank uses the key for the pledge
    r = _post(
        world.bank,
        f"/api/v1/loans/{loan.pk}/pledge/",
        {"registration_number": "Y2025420000901", "registered_on": "2025-02-12"},
        "k-2",
    )
    # then
    assert refused(r, 409)["code"] == "idempotency_key_reused"
    assert snapshot() == before


def test_different_users_may_use_the_same_key(world: World) -> None:
    # given two applications in review at the same bank, and a second user of that bank
    first, second = advance(world, "bank_review"), advance(world, "bank_review")
    colleague = add_user(world.bank)
    # when each user approves one application with the same key
    a = _post(world.bank, f"/api/v1/applications/{first.application}/approve/", approve_body(), "approve")
    b = _post(
        colleague,
        f"/api/v1/applications/{second.application}/approve/",
        approve_body(principal="900000.00"),
        "approve",
    )
    # then both are done: two loans, two keys
    assert (a.status_code, b.status_code) == (201, 201)
    assert sorted(str(p) for p in Loan.objects.values_list("principal", flat=True)) == [
        "1000000.00",
        "900000.00",
    ]
    assert IdempotencyKey.objects.filter(key="approve").count() == 2


def test_a_refused_request_replays_its_refusal(world: World) -> None:
    # given a disbursement refused (premium unpaid) under a key
    case = advance(world, "approved", pledged=True)
    path = f"/api/v1/loans/{case.loan}/disburse/"
    first = _post(world.bank, path, {"disbursed_on": "2025-02-20"}, "disburse-early")
    assert refused(first, 409)["code"] == "premium_not_paid"
    # when the premium is paid and the same request is replayed under the same key
    paid = world.insurer.client.post(
        f"/api/v1/policies/{case.policy_id}/premium-payments/",
        {"amount": "20000.00", "paid_on": "2025-02-10"},
        format="json",
    )
    assert paid.status_code == 201
    before = snapshot()
    again = _post(world.bank, path, {"disbursed_on": "2025-02-20"}, "disburse-early")
    # then the answer to a key never changes, and nothing is disbursed
    _replayed(first, again)
    assert snapshot() == before
    # and a new key disburses
    assert _post(world.bank, path, {"disbursed_on": "2025-02-20"}, "disburse-2").status_code == 200


def test_a_key_longer_than_200_characters_is_400(world: World) -> None:
    # given an application in review
    case = advance(world, "bank_review")
    before = snapshot()
    # when the bank approves with a 201-character key
    r = _post(world.bank, f"/api/v1/applications/{case.application}/approve/", approve_body(), "k" * 201)
    # then
    assert refused(r, 400) == {
        "code": "invalid",
        "message": "An Idempotency-Key has at most 200 characters.",
        "fields": {"Idempotency-Key": ["An Idempotency-Key has at most 200 characters."]},
    }
    assert snapshot() == before
