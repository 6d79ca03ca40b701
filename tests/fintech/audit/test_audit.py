"""The append-only audit log (DOMAIN.md section 11): model guards, the PostgreSQL trigger, scrubbing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from fintech.models import AuditLog
from fintech.services.audit import audit_record
from fintech.services.parties import member_add, sme_register
from tests.fintech.helpers import USCC_A, USCC_B, make_org, make_patent, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def row(db) -> AuditLog:
    org = make_org(kind="bank")
    with transaction.atomic():
        return audit_record(actor=None, action="test.create", obj=org, to_state="active", reason="because")


def test_audit_record_writes_who_what_and_when(db):
    # given a bank member and a patent
    user = make_user(organization=make_org(kind="bank"))
    patent = make_patent()

    # when a change is recorded in a transaction
    with transaction.atomic():
        entry = audit_record(
            actor=user,
            action="patent.status",
            obj=patent,
            from_state="in_force",
            to_state="lapsed",
            reason="annual fee unpaid",
            amount=Decimal("1234.50"),
        )

    # then the row holds the actor, its organisation, the object and the states
    entry = AuditLog.objects.get(pk=entry.pk)
    assert entry.actor == user
    assert entry.actor_organization == user.organization
    assert (entry.action, entry.object_type, entry.object_id) == (
        "patent.status",
        "fintech.patent",
        str(patent.pk),
    )
    assert (entry.from_state, entry.to_state, entry.reason) == ("in_force", "lapsed", "annual fee unpaid")
    assert entry.amount == Decimal("1234.50")
    assert entry.at is not None


def test_audit_record_outside_a_transaction_is_refused(db):
    # given no open transaction (pytest-django's test transaction is one, so leave it aside)
    org = make_org(kind="bank")
    before = AuditLog.objects.count()

    # when a row is recorded with autocommit semantics, then it is refused
    connection.in_atomic_block, saved = False, connection.in_atomic_block
    try:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            audit_record(actor=None, action="x", obj=org)
    finally:
        connection.in_atomic_block = saved
    assert AuditLog.objects.count() == before


def test_an_audit_row_cannot_be_saved_again(row):
    # given an audit row
    # when it is edited and saved, then PermissionError; the row is unchanged
    row.reason = "rewritten"
    with pytest.raises(PermissionError, match="append-only"):
        row.save()
    assert AuditLog.objects.get(pk=row.pk).reason == "because"


def test_an_audit_row_cannot_be_deleted(row):
    # given an audit row
    # when it is deleted, then PermissionError; it is still there
    with pytest.raises(PermissionError, match="append-only"):
        row.delete()
    assert AuditLog.objects.filter(pk=row.pk).exists()


def test_audit_rows_cannot_be_updated_or_deleted_in_bulk(row):
    # given an audit row
    # when the queryset updates or deletes, then PermissionError; nothing changes
    with pytest.raises(PermissionError):
        AuditLog.objects.filter(pk=row.pk).update(reason="rewritten")
    with pytest.raises(PermissionError):
        AuditLog.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditLog.objects.filter(pk=row.pk).delete()
    assert AuditLog.objects.get(pk=row.pk).reason == "because"


def test_audit_rows_cannot_be_bulk_updated(row):
    # given an audit row
    row.reason = "rewritten"

    # when bulk_update is used (it goes through QuerySet.update), then PermissionError
    with pytest.raises(PermissionError), transaction.atomic():
        AuditLog.objects.bulk_update([row], ["reason"])
    assert AuditLog.objects.get(pk=row.pk).reason == "because"


def test_an_audit_row_cannot_be_saved_with_a_forced_update(row):
    # given a fresh copy of an audit row with its primary key
    copy = AuditLog(pk=row.pk, action="forged", object_type="x", object_id="1")

    # when it is saved over the original, then PermissionError
    with pytest.raises(PermissionError):
        copy.save()
    assert AuditLog.objects.get(pk=row.pk).action == "test.create"


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE fintech_auditlog SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM fintech_auditlog WHERE id = %s",
    ],
)
def test_the_database_refuses_raw_updates_and_deletes(row, sql):
    # given an audit row on PostgreSQL
    # when raw SQL changes it, then the trigger refuses
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [row.pk])

    # and the row is unchanged
    assert AuditLog.objects.get(pk=row.pk).reason == "because"


def test_the_payload_is_scrubbed_of_secrets(db):
    # given a payload carrying secrets at several depths, in several spellings
    org = make_org(kind="bank")
    payload = {
        "username": "acme",
        "password": "Correct-horse-9!",
        "new_password1": "Correct-horse-9!",
        "enterprise": {"name": "Acme", "Password": "x", "api_token": "t", "client_secret": "s"},
        "tokens": [{"refresh": "r", "access": "a"}],
        "headers": {"Authorization": "Bearer abc"},
        "amount": Decimal("12.30"),
        "on": date(2025, 7, 1),
        "org": org,
        "flags": (True, None, 3),
    }

    # when it is recorded
    with transaction.atomic():
        entry = audit_record(actor=None, action="test.scrub", obj=org, payload=payload)

    # then secrets are masked, and the rest is JSON-safe
    stored = AuditLog.objects.get(pk=entry.pk).payload
    assert stored == {
        "username": "acme",
        "password": "***",
        "new_password1": "***",
        "enterprise": {"name": "Acme", "Password": "***", "api_token": "***", "client_secret": "***"},
        "tokens": "***",
        "headers": {"Authorization": "***"},
        "amount": "12.30",
        "on": "2025-07-01",
        "org": org.pk,
        "flags": [True, None, 3],
    }
    assert "Correct-horse" not in str(stored)


def test_registration_and_onboarding_never_store_the_password(db):
    # given an SME registration and an onboarded bank member
    secret = "Very-secret-pass-42"
    sme_register(
        username="acme",
        password=secret,
        name="Acme",
        uscc=USCC_A,
        region_code="420100",
        industry="software_it",
        employees=80,
        annual_revenue=Decimal("1.00"),
        total_assets=Decimal("1.00"),
    )
    member_add(
        kind="bank", org_name="Bank", uscc=USCC_B, region_code="420100", username="teller", password=secret
    )

    # when the audit log is read, then no row carries the password
    rows = list(AuditLog.objects.values_list("payload", "reason"))
    assert len(rows) == 3  # sme.register, organization.create, user.create
    assert all(secret not in str(r) for r in rows)


def test_the_audit_row_keeps_the_request_without_secrets(api):
    # given an SME registering through the API (its body carries a password)
    body = {
        "username": "audited",
        "password": "Correct-horse-9!",
        "enterprise": {
            "name": "Audited Tech",
            "uscc": "91420100MA00090013",
            "region_code": "420100",
            "industry": "software_it",
            "employees": 80,
            "annual_revenue": "30000000.00",
            "total_assets": "20000000.00",
        },
    }
    # when it registers
    assert api.post("/api/v1/auth/register/", body, format="json").status_code == 201
    # then the audit row keeps the request: method, path, body, the password masked
    row = AuditLog.objects.get(action="sme.register")
    assert row.request == {
        "method": "POST",
        "path": "/api/v1/auth/register/",
        "body": {**body, "password": "***"},
    }


def test_work_outside_a_request_has_no_request_payload():
    from datetime import date

    from fintech.services.patents import patents_mark_expired
    from tests.factories import PatentFactory

    PatentFactory(
        patent_type="utility_model",
        filing_date=date(2009, 1, 1),
        grant_date=date(2010, 1, 1),
        expires_on=date(2018, 12, 31),
    )
    assert patents_mark_expired(as_of=date(2025, 1, 1)) == 1
    assert AuditLog.objects.get(action="patent.expiry").request == {}
