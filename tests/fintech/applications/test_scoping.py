"""Who sees and does what (DOMAIN.md section 11, API.md "Conventions"): a party acting on an
application it is not named on gets 404 (never revealing the record), a named party with the wrong
role 403, lists show only one's own records, a regulator sees its region's submitted applications."""

from __future__ import annotations

from typing import Any

import pytest

from fintech.models import Program, Region

from .helpers import (
    Case,
    Party,
    World,
    advance,
    approve_body,
    create_application,
    make_party,
    refused,
    register_patent,
    report_body,
    snapshot,
    submit,
)

NOT_FOUND = {"code": "not_found", "message": "Not found."}


@pytest.fixture
def others(world: World) -> dict[str, Party]:
    """A second organisation of each kind, in Wuhan too."""
    return {kind: make_party(kind) for kind in ("sme", "bank", "insurer", "appraiser")}


def _post(party: Party, path: str, body: dict[str, Any] | None = None) -> Any:
    return party.client.post(path, body or {}, format="json")


# --- 404: not named on the application ----------------------------------------------------------


def test_another_bank_approving_gets_404(world: World, others: dict[str, Party]) -> None:
    # given an application in review at the world's bank
    case = advance(world, "bank_review")
    before = snapshot()
    # when another bank approves it
    r = _post(others["bank"], f"/api/v1/applications/{case.application}/approve/", approve_body())
    # then
    assert refused(r, 404) == {"code": "not_found", "message": "Application not found."}
    assert snapshot() == before


def test_another_bank_cannot_read_decline_pledge_or_disburse(world: World, others: dict[str, Party]) -> None:
    # given an approved loan of the world's bank, premium paid
    case = advance(world, "approved", premium_paid=True)
    bank = others["bank"]
    before = snapshot()
    # when another bank reads, declines, pledges and disburses
    answers = [
        bank.client.get(f"/api/v1/applications/{case.application}/"),
        bank.client.get(f"/api/v1/loans/{case.loan}/"),
        bank.client.get(f"/api/v1/loans/{case.loan}/schedule/"),
        _post(bank, f"/api/v1/applications/{case.application}/decline/", {"reason": "no"}),
        _post(
            bank,
            f"/api/v1/loans/{case.loan}/pledge/",
            {"registration_number": "Y2025420000555", "registered_on": "2025-02-12"},
        ),
        _post(bank, f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": "2025-02-20"}),
    ]
    # then every answer is a 404 that reveals nothing
    assert [refused(r, 404) for r in answers] == [
        NOT_FOUND,
        NOT_FOUND,
        {"code": "not_found", "message": "Loan not found."},
        {"code": "not_found", "message": "Application not found."},
        {"code": "not_found", "message": "Loan not found."},
        {"code": "not_found", "message": "Loan not found."},
    ]
    assert snapshot() == before


def test_another_insurer_issuing_a_policy_gets_404(world: World, others: dict[str, Party]) -> None:
    # given an application the world's insurer is underwriting
    case = advance(world, "underwriting")
    before = snapshot()
    # when another insurer issues a policy or declines
    issued = _post(
        others["insurer"], f"/api/v1/applications/{case.application}/policy/", {"premium_rate": "0.02"}
    )
    declined = _post(others["insurer"], f"/api/v1/applications/{case.application}/decline/", {"reason": "no"})
    # then
    assert (
        refused(issued, 404)
        == refused(declined, 404)
        == {"code": "not_found", "message": "Application not found."}
    )
    assert snapshot() == before


def test_another_insurer_recording_a_premium_gets_404(world: World, others: dict[str, Party]) -> None:
    # given an issued policy of the world's insurer
    case = advance(world, "bank_review")
    before = snapshot()
    # when another insurer records its premium
    r = _post(
        others["insurer"],
        f"/api/v1/policies/{case.policy_id}/premium-payments/",
        {"amount": "20000.00", "paid_on": "2025-02-10"},
    )
    # then
    assert refused(r, 404) == {"code": "not_found", "message": "Policy not found."}
    assert snapshot() == before


def test_another_appraiser_reporting_gets_404(world: World, others: dict[str, Party]) -> None:
    # given an engagement of the world's appraisal firm
    case = advance(world, "valuation")
    before = snapshot()
    # when another firm reads it or reports on it
    read = others["appraiser"].client.get(f"/api/v1/valuations/{case.valuation}/")
    reported = _post(
        others["appraiser"], f"/api/v1/valuations/{case.valuation}/report/", report_body(case.patents)
    )
    # then
    assert refused(read, 404) == NOT_FOUND
    assert refused(reported, 404) == {"code": "not_found", "message": "Valuation not found."}
    assert snapshot() == before


def test_another_sme_reading_submitting_or_withdrawing_gets_404(
    world: World, others: dict[str, Party]
) -> None:
    # given the world's SME's draft
    case = advance(world, "draft")
    sme = others["sme"]
    before = snapshot()
    # when another SME reads, submits or withdraws it
    read = sme.client.get(f"/api/v1/applications/{case.application}/")
    submitted = _post(sme, f"/api/v1/applications/{case.application}/submit/")
    withdrawn = _post(sme, f"/api/v1/applications/{case.application}/withdraw/")
    # then
    assert refused(read, 404) == NOT_FOUND
    assert (
        refused(submitted, 404)
        == refused(withdrawn, 404)
        == {"code": "not_found", "message": "Application not found."}
    )
    assert snapshot() == before


def test_another_sme_cannot_apply_with_someone_elses_patent(world: World, others: dict[str, Party]) -> None:
    # given the world's SME's patent
    patent = register_patent(world.sme)
    before = snapshot()
    # when another SME applies with it
    r = _post(
        others["sme"],
        "/api/v1/applications/",
        {
            "program": world.program.pk,
            "patents": [patent["id"]],
            "requested_amount": "1000000.00",
            "term_months": 12,
            "repayment_method": "equal_principal",
            "bank": world.bank.id,
            "insurer": world.insurer.id,
            "appraiser": world.appraiser.id,
        },
    )
    # then the patent is unknown to it
    message = f"Unknown patent id(s) [{patent['id']}]: register your patents first."
    assert refused(r, 400) == {"code": "invalid", "message": message, "fields": {"patents": [message]}}
    assert snapshot() == before


@pytest.mark.parametrize("kind", ["bank", "insurer", "appraiser"])
def test_a_named_party_does_not_see_a_draft(world: World, kind: str) -> None:
    # given a draft naming the world's bank, insurer and appraisal firm
    case = advance(world, "draft")
    party: Party = getattr(world, kind)
    # when the named party reads it or lists its applications
    read = party.client.get(f"/api/v1/applications/{case.application}/")
    listed = party.client.get("/api/v1/applications/")
    # then the draft is not theirs to see yet
    assert refused(read, 404) == NOT_FOUND
    assert listed.json()["count"] == 0
    # and once submitted, they see it
    submit(world, case.application)
    assert party.client.get(f"/api/v1/applications/{case.application}/").json()["status"] == "valuation"


# --- 403: named, but the wrong role ------------------------------------------------------------


def test_insurer_calling_approve_gets_403(world: World) -> None:
    # given an application in review, naming the world's insurer
    case = advance(world, "bank_review")
    before = snapshot()
    # when the insurer approves it
    r = _post(world.insurer, f"/api/v1/applications/{case.application}/approve/", approve_body())
    # then
    assert refused(r, 403) == {
        "code": "permission_denied",
        "message": "This needs the role Bank; you are 'Insurer'.",
    }
    assert snapshot() == before


def test_named_parties_with_the_wrong_role_get_403(world: World) -> None:
    # given an approved loan (premium paid) naming the world's parties
    case = advance(world, "approved", premium_paid=True)
    app, loan = case.application, case.loan
    before = snapshot()
    # when each party tries another role's action
    attempts = [
        (world.sme, f"/api/v1/applications/{app}/approve/", approve_body(), "bank", "sme"),
        (world.bank, f"/api/v1/applications/{app}/policy/", {"premium_rate": "0.02"}, "insurer", "bank"),
        (world.appraiser, f"/api/v1/applications/{app}/submit/", {}, "sme", "appraiser"),
        (world.bank, f"/api/v1/applications/{app}/withdraw/", {}, "sme", "bank"),
        (world.sme, f"/api/v1/applications/{app}/decline/", {"reason": "x"}, "insurer or bank", "sme"),
        (
            world.bank,
            f"/api/v1/policies/{case.policy_id}/premium-payments/",
            {"amount": "1.00", "paid_on": "2025-02-10"},
            "insurer",
            "bank",
        ),
        (
            world.insurer,
            f"/api/v1/loans/{loan}/pledge/",
            {"registration_number": "Y1", "registered_on": "2025-02-12"},
            "bank",
            "insurer",
        ),
        (world.sme, f"/api/v1/loans/{loan}/disburse/", {"disbursed_on": "2025-02-20"}, "bank", "sme"),
        (
            world.regulator,
            f"/api/v1/loans/{loan}/disburse/",
            {"disbursed_on": "2025-02-20"},
            "bank",
            "regulator",
        ),
        (
            world.bank,
            f"/api/v1/valuations/{case.valuation}/report/",
            report_body(case.patents),
            "appraiser",
            "bank",
        ),
    ]
    answers = [
        (refused(_post(party, path, body), 403), need, role) for party, path, body, need, role in attempts
    ]
    # then every one is a 403 naming the role needed (by the organisation kind's English name)
    LABEL = {
        "bank": "Bank",
        "insurer": "Insurer",
        "sme": "SME",
        "regulator": "Regulator",
        "appraiser": "Appraisal firm",
        "insurer or bank": "Insurer or Bank",
    }
    for body, need, role in answers:
        assert body == {
            "code": "permission_denied",
            "message": f"This needs the role {LABEL[need]}; you are '{LABEL[role]}'.",
        }
    assert snapshot() == before


def test_the_appraiser_cannot_decline(world: World) -> None:
    # given an application the appraiser is valuing
    case = advance(world, "valuation")
    before = snapshot()
    # when the appraiser declines it
    r = _post(world.appraiser, f"/api/v1/applications/{case.application}/decline/", {"reason": "weak"})
    # then
    assert refused(r, 403)["code"] == "permission_denied"
    assert snapshot() == before


# --- Lists --------------------------------------------------------------------------------------


def _ids(party: Party, path: str) -> list[int]:
    r = party.client.get(path)
    assert r.status_code == 200, r.content
    return sorted(row["id"] for row in r.json()["results"])


def test_lists_show_only_own_records(world: World, others: dict[str, Party]) -> None:
    # given an active loan between the world's parties and one between the other parties
    mine = advance(world, "active")
    theirs_world = World(
        program=world.program,
        sme=others["sme"],
        bank=others["bank"],
        insurer=others["insurer"],
        appraiser=others["appraiser"],
        regulator=world.regulator,
    )
    theirs = advance(theirs_world, "active")
    # and a draft of each SME
    my_draft = create_application(world, [register_patent(world.sme)["id"]])["id"]
    their_draft = create_application(theirs_world, [register_patent(others["sme"])["id"]])["id"]
    # when each lists applications, loans and valuations
    # then each sees its own only (drafts: the SME alone)
    for w, case, draft in ((world, mine, my_draft), (theirs_world, theirs, their_draft)):
        assert _ids(w.sme, "/api/v1/applications/") == sorted([case.application, draft])
        for party in (w.bank, w.insurer, w.appraiser):
            assert _ids(party, "/api/v1/applications/") == [case.application]
        for party in (w.bank, w.insurer, w.sme):
            assert _ids(party, "/api/v1/loans/") == [case.loan]
        # an appraisal firm sees its valuations, not loans (DOMAIN.md section 11)
        assert _ids(w.appraiser, "/api/v1/loans/") == []
        assert _ids(w.appraiser, "/api/v1/valuations/") == [case.valuation]
        assert _ids(w.sme, "/api/v1/patents/") == sorted(set(case.patents) | set(_draft_patents(w, draft)))


def _draft_patents(w: World, draft: int) -> list[int]:
    return list(w.sme.client.get(f"/api/v1/applications/{draft}/").json()["patents"])


# --- Regulators ---------------------------------------------------------------------------------


def _huangshi(world: World) -> tuple[World, Case]:
    """A programme serving Huangshi (420200), an SME there, and its submitted application."""
    program = Program.objects.create(code="huangshi", name="Huangshi pilot")
    program.regions.add(Region.objects.get(code="420200"))
    hs = World(
        program=program,
        sme=make_party("sme", region="420200"),
        bank=world.bank,
        insurer=world.insurer,
        appraiser=world.appraiser,
        regulator=make_party("regulator", region="420200"),
    )
    return hs, advance(hs, "valuation")


def test_regulator_sees_its_regions_submitted_applications(world: World) -> None:
    # given a submitted and a draft Wuhan application, and a submitted Huangshi one
    submitted = advance(world, "underwriting")
    draft = advance(world, "draft")
    hs, huangshi = _huangshi(world)
    # when each regulator lists and reads
    # then the Wuhan regulator sees the submitted Wuhan application only
    assert _ids(world.regulator, "/api/v1/applications/") == [submitted.application]
    assert (
        world.regulator.client.get(f"/api/v1/applications/{submitted.application}/").json()["status"]
        == "underwriting"
    )
    assert refused(world.regulator.client.get(f"/api/v1/applications/{draft.application}/"), 404) == NOT_FOUND
    assert (
        refused(world.regulator.client.get(f"/api/v1/applications/{huangshi.application}/"), 404) == NOT_FOUND
    )
    # and the Huangshi regulator the Huangshi one only
    assert _ids(hs.regulator, "/api/v1/applications/") == [huangshi.application]
    # and the bank, named on both, sees both
    assert _ids(world.bank, "/api/v1/applications/") == sorted([submitted.application, huangshi.application])


def test_regulator_reads_loans_of_its_region_but_cannot_act(world: World) -> None:
    # given an active Wuhan loan
    case = advance(world, "active")
    before = snapshot()
    # when the Wuhan regulator lists loans and tries to approve the application
    loans = _ids(world.regulator, "/api/v1/loans/")
    r = _post(world.regulator, f"/api/v1/applications/{case.application}/approve/", approve_body())
    # then it reads, and may not act
    assert loans == [case.loan]
    assert refused(r, 403) == {
        "code": "permission_denied",
        "message": "This needs the role Bank; you are 'Regulator'.",
    }
    assert snapshot() == before
