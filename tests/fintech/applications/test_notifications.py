"""E-mail to an organisation's users when an application reaches its queue: queued on commit, sent
by the Celery task (in process in tests), never for work that rolled back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import transaction

from fintech.models import Application, Organization, User
from fintech.services.applications import application_submit

from .helpers import (
    GRADE_D_ENTERPRISE,
    GRADE_D_INDICATORS,
    Party,
    World,
    add_user,
    advance,
    issue_policy,
    make_party,
    post,
    report,
    report_body,
    submit,
)

Capture = Callable[..., Any]


def _staff(party: Party) -> list[str]:
    """Give the organisation a second user with an address, one without and an inactive one; return
    the addresses that should be written to."""
    colleague = add_user(party, email=f"colleague@{party.org.kind}.example.cn")
    add_user(party, email="")
    gone = add_user(party, email=f"gone@{party.org.kind}.example.cn")
    User.objects.filter(pk=gone.user.pk).update(is_active=False)
    return sorted([party.user.email, colleague.user.email])


def _sent() -> list[tuple[str, str, str, list[str]]]:
    return sorted((str(m.subject), str(m.body), m.from_email, m.to) for m in mail.outbox)


def test_submission_emails_the_appraisal_firm(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a draft, the appraisal firm's staff, and another firm
    case = advance(world, "draft")
    addresses = _staff(world.appraiser)
    make_party("appraiser")
    # when the SME submits and the transaction commits
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit(world, case.application)
    # then one notification was queued and each active user with an address got one e-mail
    a, sme = case.application, world.sme.org.name
    assert len(callbacks) == 1
    assert _sent() == [
        (
            f"[Patent pledge] Application #{a}: valuation",
            f"Application #{a} of {sme} awaits your valuation report.",
            "noreply@patent-pledge.local",
            [address],
        )
        for address in addresses
    ]


def test_valuation_report_emails_the_insurer(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an application waiting for its valuation, and the insurer's staff
    case = advance(world, "valuation")
    addresses = _staff(world.insurer)
    # when the appraiser reports
    with django_capture_on_commit_callbacks(execute=True):
        report(world, case.application, case.patents)
    # then the insurer's users are told
    a, sme = case.application, world.sme.org.name
    assert _sent() == [
        (
            f"[Patent pledge] Application #{a}: underwriting",
            f"Application #{a} of {sme} awaits your underwriting (valuation reported).",
            "noreply@patent-pledge.local",
            [address],
        )
        for address in addresses
    ]


def test_policy_issue_emails_the_bank(world: World, django_capture_on_commit_callbacks: Capture) -> None:
    # given an application in underwriting, and the bank's staff
    case = advance(world, "underwriting")
    addresses = _staff(world.bank)
    # when the insurer issues the policy
    with django_capture_on_commit_callbacks(execute=True):
        issue_policy(world, case.application)
    # then the bank's users are told
    a, sme = case.application, world.sme.org.name
    assert _sent() == [
        (
            f"[Patent pledge] Application #{a}: bank review",
            f"Application #{a} of {sme} awaits your review (policy issued).",
            "noreply@patent-pledge.local",
            [address],
        )
        for address in addresses
    ]


def test_grade_d_emails_the_sme(world: World, django_capture_on_commit_callbacks: Capture) -> None:
    # given an application waiting for its valuation
    case = advance(world, "valuation")
    # when the appraiser reports grade D
    with django_capture_on_commit_callbacks(execute=True):
        post(
            world.appraiser,
            f"/api/v1/valuations/{case.valuation}/report/",
            report_body(case.patents, indicators=GRADE_D_INDICATORS, enterprise=GRADE_D_ENTERPRISE),
            expect=201,
        )
    # then the SME is told why, and nobody else
    a = case.application
    assert _sent() == [
        (
            f"[Patent pledge] Application #{a}: declined",
            f"Application #{a} was declined: Risk grade D is not eligible for a pledge loan.",
            "noreply@patent-pledge.local",
            [world.sme.user.email],
        )
    ]


def test_nothing_is_sent_when_the_transaction_rolls_back(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a draft and the appraisal firm's staff
    case = advance(world, "draft")
    _staff(world.appraiser)
    # when the submission runs inside a transaction that then rolls back
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        application_submit(actor=world.sme.user, application_id=case.application)
        raise RuntimeError("a later step of the same transaction failed")
    # then no notification was queued, no e-mail sent, and the application is still a draft
    assert callbacks == []
    assert mail.outbox == []
    assert Application.objects.get(pk=case.application).status == "draft"


def test_nothing_is_sent_for_a_refused_submission(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a draft of an SME that is no longer eligible (programme suspended)
    case = advance(world, "draft")
    _staff(world.appraiser)
    world.program.is_active = False
    world.program.save(update_fields=["is_active"])
    # when it submits
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        r = world.sme.client.post(f"/api/v1/applications/{case.application}/submit/", format="json")
    # then
    assert r.status_code == 409
    assert callbacks == []
    assert mail.outbox == []


def test_an_organisation_without_addresses_gets_nothing(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an appraisal firm whose only user has no address
    User.objects.filter(organization=world.appraiser.org).update(email="")
    case = advance(world, "draft")
    # when the SME submits
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        submit(world, case.application)
    # then the task ran and found nobody to write to
    assert len(callbacks) == 1
    assert mail.outbox == []
    assert Organization.objects.get(pk=world.appraiser.id).users.count() == 1
