"""The admin's review screens are scoped per organisation (STYLE.md "admin/", DOMAIN.md section 11)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client

from fintech.models import AuditLog, Finding, Organization, PatentEvent, Program
from fintech.services.audit import audit_record
from fintech.services.common import business_today
from tests.builders import active_loan
from tests.fintech.helpers import (
    FAST_PASSWORD_HASHERS,
    make_org,
    make_patent,
    make_sme,
    make_user,
    table_counts,
)

pytestmark = pytest.mark.django_db

ADMIN = "/admin/fintech"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any) -> None:
    # Production serves collected, hashed files (WhiteNoise's manifest storage, filled by
    # collectstatic); the tests render the admin without running collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _login(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def _changelist_ids(client: Client, model: str) -> list[int]:
    response = client.get(f"{ADMIN}/{model}/")
    assert response.status_code == 200, response.status_code
    return sorted(obj.pk for obj in response.context["cl"].result_list)


@pytest.fixture
def world(db) -> dict[str, Any]:
    """Two banks with a staff member each, an SME with a patent, audit rows of each party."""
    bank = make_org(kind="bank", name="Hankou Bank")
    other_bank = make_org(kind="bank", name="Other Bank")
    sme = make_sme(name="Optics SME")
    bank_staff = make_user(organization=bank, is_staff=True, username="teller")
    other_staff = make_user(organization=other_bank, is_staff=True, username="other-teller")
    sme_user = make_user(organization=sme, username="founder")
    patent = make_patent(owner=sme)
    from django.db import transaction

    with transaction.atomic():
        own_row = audit_record(actor=bank_staff, action="test.bank", obj=bank, to_state="x")
        other_row = audit_record(actor=other_staff, action="test.other", obj=other_bank, to_state="x")
        sme_row = audit_record(actor=sme_user, action="test.sme", obj=patent, to_state="x")
        system_row = audit_record(actor=None, action="test.system", obj=patent, to_state="x")
    superuser = make_user(organization=None, username="root", is_staff=True, is_superuser=True)
    return {
        "bank": bank,
        "other_bank": other_bank,
        "sme": sme,
        "bank_staff": bank_staff,
        "sme_user": sme_user,
        "patent": patent,
        "rows": {"own": own_row, "other": other_row, "sme": sme_row, "system": system_row},
        "superuser": superuser,
    }


def test_bank_staff_sees_only_its_own_organisation(world):
    # given a bank's staff member
    client = _login(world["bank_staff"])

    # when it opens the organisation changelist, then only its bank is there
    assert _changelist_ids(client, "organization") == [world["bank"].pk]


def test_bank_staff_cannot_open_another_organisation(world):
    # given a bank's staff member
    client = _login(world["bank_staff"])

    # when it opens another organisation's page, then it is not found (redirected to the index)
    response = client.get(f"{ADMIN}/organization/{world['other_bank'].pk}/change/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_bank_staff_cannot_change_its_own_organisation(world):
    # given a bank's staff member and its organisation's page
    client = _login(world["bank_staff"])
    url = f"{ADMIN}/organization/{world['bank'].pk}/change/"

    # when it opens the page, then it is read-only
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False

    # and a change posted anyway is refused; nothing changes
    before = table_counts()
    response = client.post(url, {"name": "Renamed", "kind": "bank"})
    assert response.status_code == 403
    assert Organization.objects.get(pk=world["bank"].pk).name == "Hankou Bank"
    assert table_counts() == before


def test_bank_staff_cannot_change_programmes(world):
    # given a bank's staff member and the Wuhan programme
    client = _login(world["bank_staff"])
    program = Program.objects.get(code="wuhan")
    url = f"{ADMIN}/program/{program.pk}/change/"

    # when it opens the programme, then it may read it, not change it
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["has_change_permission"] is False
    # and a change posted anyway is refused
    response = client.post(url, {"code": "wuhan", "name": "Hacked", "insurer_share": "0.90"})
    assert response.status_code == 403
    program.refresh_from_db()
    assert program.name.startswith("武汉")
    # and it cannot add one
    assert client.get(f"{ADMIN}/program/add/").status_code == 403


def test_bank_staff_sees_only_the_audit_rows_of_its_organisation(world):
    # given audit rows written by the bank, another bank, an SME and the system
    client = _login(world["bank_staff"])

    # when the bank's staff opens the audit log, then only its organisation's rows are there
    assert _changelist_ids(client, "auditlog") == [world["rows"]["own"].pk]


def test_bank_staff_cannot_open_another_organisations_audit_row(world):
    # given another bank's audit row
    client = _login(world["bank_staff"])

    # when the bank's staff opens it, then it is not found
    response = client.get(f"{ADMIN}/auditlog/{world['rows']['other'].pk}/change/")
    assert response.status_code == 302


def test_bank_staff_get_no_patent_screen(world):
    # given an SME's patent; a bank never sees patents (access.SCOPES names SMEs and regulators)
    client = _login(world["bank_staff"])

    # when the bank's staff opens the patent list or the patent, then it is refused (an admin page)
    for url in (f"{ADMIN}/patent/", f"{ADMIN}/patent/{world['patent'].pk}/change/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Your organisation may not open this page" in response.content.decode()


def test_bank_staff_sees_only_the_users_of_its_organisation(world):
    # given users of two banks and an SME
    client = _login(world["bank_staff"])

    # when the bank's staff opens the users, then only its colleagues are there
    assert _changelist_ids(client, "user") == [world["bank_staff"].pk]


def test_audit_rows_cannot_be_deleted_or_added_in_the_admin(world):
    # given the platform superuser
    client = _login(world["superuser"])
    row = world["rows"]["own"]
    before = table_counts()

    # when it tries to add or delete an audit row, then it is refused; nothing changes
    assert client.get(f"{ADMIN}/auditlog/add/").status_code == 403
    assert client.post(f"{ADMIN}/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditLog.objects.filter(pk=row.pk).exists()
    assert table_counts() == before


def test_platform_superuser_sees_everything(world):
    # given the platform superuser
    client = _login(world["superuser"])

    # when it opens each changelist, then every row is there
    assert _changelist_ids(client, "organization") == sorted(
        Organization.objects.values_list("pk", flat=True)
    )
    assert _changelist_ids(client, "auditlog") == sorted(r.pk for r in world["rows"].values())
    assert _changelist_ids(client, "patent") == [world["patent"].pk]
    assert len(_changelist_ids(client, "user")) == 4


def test_platform_member_sees_every_organisation(world):
    # given a member of the platform organisation (onboarded with add_member, not a superuser)
    platform = make_user(organization=make_org(kind="platform"), is_staff=True)
    client = _login(platform)

    # when it opens the organisations, then it sees all and may change them
    assert _changelist_ids(client, "organization") == sorted(
        Organization.objects.values_list("pk", flat=True)
    )
    response = client.get(f"{ADMIN}/organization/{world['bank'].pk}/change/")
    assert response.context["has_change_permission"] is True


@pytest.mark.parametrize(
    "page",
    [
        "/admin/",
        "/admin/fintech/",
        f"{ADMIN}/organization/",
        f"{ADMIN}/organization/add/",
        f"{ADMIN}/user/",
        f"{ADMIN}/user/add/",
        f"{ADMIN}/program/",
        f"{ADMIN}/program/add/",
        f"{ADMIN}/region/",
        f"{ADMIN}/region/420100/change/",
        f"{ADMIN}/auditlog/",
        f"{ADMIN}/patent/",
        f"{ADMIN}/patent/?status=in_force",
        f"{ADMIN}/organization/?kind=sme&q=Optics",
        f"{ADMIN}/auditlog/?action=test.bank",
    ],
)
def test_admin_pages_render_for_the_platform(world, page):
    # given the platform superuser
    client = _login(world["superuser"])

    # when it opens a page, then it renders
    assert client.get(page).status_code == 200


def test_admin_detail_pages_render_for_the_platform(world):
    # given the platform superuser and a record of each model
    client = _login(world["superuser"])
    program = Program.objects.get(code="wuhan")

    # when it opens each detail page, then it renders
    for url in [
        f"{ADMIN}/organization/{world['sme'].pk}/change/",
        f"{ADMIN}/user/{world['sme_user'].pk}/change/",
        f"{ADMIN}/program/{program.pk}/change/",
        f"{ADMIN}/patent/{world['patent'].pk}/change/",
        f"{ADMIN}/auditlog/{world['rows']['sme'].pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    "page",
    ["/admin/", f"{ADMIN}/organization/", f"{ADMIN}/auditlog/", f"{ADMIN}/program/"],
)
def test_admin_pages_render_for_bank_staff(world, page):
    # given a bank's staff member
    client = _login(world["bank_staff"])

    # when it opens a review page, then it renders
    assert client.get(page).status_code == 200


def test_the_admin_index_lists_the_review_screens_for_bank_staff(world):
    # given a bank's staff member
    client = _login(world["bank_staff"])

    # when it opens the admin index, then the fintech screens are listed, not the patents (a bank
    # never sees one: the menu would always list nothing)
    response = client.get("/admin/")
    models = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    assert {"Organization", "AuditLog", "Program"} <= models
    assert "Patent" not in models


def test_sme_users_cannot_enter_the_admin(world):
    # given an SME user (not staff)
    client = _login(world["sme_user"])

    # when it opens the admin, then it is sent to the login page
    response = client.get(f"{ADMIN}/organization/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def _org_form(**overrides: str) -> dict[str, str]:
    data = {
        "kind": "insurer",
        "name": "Hubei Guarantee Insurance",
        "uscc": "91420100MA00090013",
        "region": "420100",
        "external_id": "",
        "is_active": "on",
        "industry": "",
        "employees": "",
        "annual_revenue": "",
        "total_assets": "",
        "size_class": "",
    }
    data.update(overrides)
    return data


def test_platform_adds_an_organisation_with_a_valid_uscc_and_it_is_audited(world):
    # given the platform superuser
    client = _login(world["superuser"])

    # when it adds an insurer with a USCC typed in lower case
    response = client.post(f"{ADMIN}/organization/add/", _org_form(uscc="91420100ma00090013"))

    # then the insurer is saved under the canonical code, and the creation is audited
    assert response.status_code == 302, response.content[:2000]
    org = Organization.objects.get(uscc="91420100MA00090013")
    assert (org.kind, org.name) == ("insurer", "Hubei Guarantee Insurance")
    row = AuditLog.objects.get(action="organization.create", object_id=str(org.pk))
    assert row.actor == world["superuser"]
    assert row.to_state == "active"
    assert row.payload["uscc"] == "91420100MA00090013"


@pytest.mark.parametrize("code", ["91420100MA00090014", "91420100MA0009001", "91420100MA0009O013"])
def test_platform_cannot_add_an_organisation_with_an_invalid_uscc(world, code):
    # given the platform superuser
    client = _login(world["superuser"])
    before = table_counts()

    # when it adds an organisation with an invalid USCC
    response = client.post(f"{ADMIN}/organization/add/", _org_form(uscc=code))

    # then the form shows the USCC error; nothing is written
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["uscc"]
    assert table_counts() == before


def test_platform_deactivating_an_organisation_is_audited(world):
    # given the platform superuser and an active bank
    client = _login(world["superuser"])
    bank = world["other_bank"]
    data = _org_form(kind="bank", name=bank.name, uscc=bank.uscc)
    del data["is_active"]

    # when it unticks "active"
    response = client.post(f"{ADMIN}/organization/{bank.pk}/change/", data)

    # then the bank is inactive and the change is audited from active to inactive
    assert response.status_code == 302
    bank.refresh_from_db()
    assert bank.is_active is False
    row = AuditLog.objects.get(action="organization.change", object_id=str(bank.pk))
    assert (row.from_state, row.to_state) == ("active", "inactive")
    assert row.payload == {"is_active": False}


def _mark(client: Client, patent: Any, key: str, on: str = "", reason: str = "CNIPA register") -> Any:
    """Press a legal-status button of the patent's page (the admin action framework) and submit it."""
    day = on or business_today().isoformat()
    return client.post(f"{ADMIN}/patent/{patent.pk}/action/{key}/", {"on": day, "reason": reason})


@pytest.mark.parametrize(
    ("key", "status", "audited_as"),
    [
        ("lapse", "lapsed", "patent.lapse"),
        ("invalidate", "invalidated", "patent.invalidation"),
        ("terminate", "terminated", "patent.status"),
        ("waive", "waived", "patent.status"),
        ("preserve", "preserved", "patent.status"),
        ("dispute", "disputed", "patent.status"),
    ],
)
def test_platform_marks_a_patents_legal_status_through_the_audited_transition(world, key, status, audited_as):
    # given the platform superuser on an in-force patent's page, which offers the button
    client = _login(world["superuser"])
    patent = world["patent"]
    url = f"{ADMIN}/patent/{patent.pk}/action/{key}/"
    assert url in client.get(f"{ADMIN}/patent/{patent.pk}/change/").content.decode()

    # when it presses the button and gives the date and the reason
    response = _mark(client, patent, key, reason="gazette 2025-17")

    # then the status changed through the transition, audited with who, from/to and the reason
    assert response.status_code == 302
    patent.refresh_from_db()
    assert patent.status == status
    row = AuditLog.objects.get(action=audited_as, object_id=str(patent.pk))
    assert (row.from_state, row.to_state, row.actor, row.reason) == (
        "in_force",
        status,
        world["superuser"],
        "gazette 2025-17",
    )


@pytest.mark.parametrize(
    ("first", "then", "status"),
    [
        ("preserve", "in-force", "in_force"),  # the preservation lifted
        ("dispute", "in-force", "in_force"),  # the dispute settled
        ("dispute", "invalidate", "invalidated"),
    ],
)
def test_a_measure_lifted_or_followed_by_an_invalidation(world, first, then, status):
    client = _login(world["superuser"])
    patent = world["patent"]
    _mark(client, patent, first)
    assert _mark(client, patent, then).status_code == 302
    patent.refresh_from_db()
    assert patent.status == status
    assert AuditLog.objects.filter(object_id=str(patent.pk), action__startswith="patent.").count() == 2


@pytest.mark.parametrize(
    ("first", "refused"),
    [
        ("waive", "in-force"),  # a waiver is final
        ("terminate", "lapse"),
        ("invalidate", "in-force"),
        ("lapse", "waive"),  # a lapsed patent is restored or expires; it is not waived
        ("preserve", "waive"),  # no waiver under a preservation
        ("preserve", "dispute"),  # one measure at a time
    ],
)
def test_a_change_no_transition_leads_to_is_refused_and_changes_nothing(world, first, refused):
    # given a patent the platform marked `first`
    client = _login(world["superuser"])
    patent = world["patent"]
    _mark(client, patent, first)
    patent.refresh_from_db()
    state = patent.status
    # its page does not offer the refused button
    page = client.get(f"{ADMIN}/patent/{patent.pk}/change/").content.decode()
    assert f"/action/{refused}/" not in page
    before = table_counts()

    # when the button is posted anyway
    response = _mark(client, patent, refused)

    # then it is refused on the patent's page (the service's 409), nothing written
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages and messages[-1].startswith("Cannot mark as"), messages
    patent.refresh_from_db()
    assert patent.status == state
    assert table_counts() == before


def test_platform_reinstates_a_patent(world):
    # given a lapsed patent
    client = _login(world["superuser"])
    patent = world["patent"]
    _mark(client, patent, "lapse")

    # when the platform reinstates it (the annual fee was paid late, within the grace period)
    _mark(client, patent, "in-force")

    # then it is in force again, with both changes audited
    patent.refresh_from_db()
    assert patent.status == "in_force"
    assert list(
        AuditLog.objects.filter(action__in=["patent.lapse", "patent.restoration"])
        .order_by("id")
        .values_list("from_state", "to_state")
    ) == [("in_force", "lapsed"), ("lapsed", "in_force")]
    # both are legal-status events, dated the day given
    assert list(PatentEvent.objects.filter(patent=patent).order_by("id").values_list("code", flat=True)) == [
        "lapse",
        "restoration",
    ]


def test_a_lapse_already_recorded_and_since_restored_is_refused_not_reported_as_done(world):
    # given a patent that lapsed on 2025-06-01 and was restored on 2025-06-10
    client = _login(world["superuser"])
    patent = world["patent"]
    _mark(client, patent, "lapse", on="2025-06-01")
    _mark(client, patent, "in-force", on="2025-06-10")
    patent.refresh_from_db()
    assert patent.status == "in_force"
    before = table_counts()

    # when the platform marks the same lapse of 2025-06-01 again
    response = _mark(client, patent, "lapse", on="2025-06-01")

    # then it is refused (the service's 409) on the patent's page, not "is now In force", and
    # nothing is written
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages[-1] == (
        "The event 'Lapsed for non-payment' of 2025-06-01 is already recorded; the patent is 'In force'."
    ), messages
    patent.refresh_from_db()
    assert (patent.status, patent.lapsed_on) == ("in_force", None)
    assert table_counts() == before


def test_a_lapse_already_recorded_is_refused_in_chinese_to_a_chinese_admin(world):
    # given the same patent, lapsed and restored, and an admin in Chinese
    client = _login(world["superuser"])
    patent = world["patent"]
    _mark(client, patent, "lapse", on="2025-06-01")
    _mark(client, patent, "in-force", on="2025-06-10")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"

    # when the lapse of 2025-06-01 is marked again, then the refusal is in Chinese
    response = _mark(client, patent, "lapse", on="2025-06-01")
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages[-1] == "2025-06-01的“未缴年费失效”事件已登记；该专利的状态为“有效”。", messages  # noqa: RUF001


def test_a_lapse_marked_in_the_admin_raises_the_pledged_loans_finding_at_once(world):
    # given the standard active loan whose only patent is pledged
    loan, _people = active_loan()
    patent = loan.pledge.items.get().patent
    client = _login(world["superuser"])

    # when the platform marks it lapsed in the admin as of 2025-06-01 (not waiting for the night's watch)
    _mark(client, patent, "lapse", on="2025-06-01")

    # then the lapse is an event row with its audit row, and the loan has its critical finding that day
    patent.refresh_from_db()
    assert (patent.status, patent.lapsed_on) == ("lapsed", date(2025, 6, 1))
    event = PatentEvent.objects.get(patent=patent)
    assert (event.code, event.event_on, event.from_state, event.to_state, event.recorded_by) == (
        "lapse",
        date(2025, 6, 1),
        "in_force",
        "lapsed",
        world["superuser"],
    )
    assert AuditLog.objects.filter(action="patent.lapse", object_id=str(patent.pk)).count() == 1
    finding = Finding.objects.get(loan=loan)
    assert (finding.kind, finding.severity, finding.status, finding.first_seen_on) == (
        "legal_status",
        "critical",
        "open",
        date(2025, 6, 1),
    )


def test_bank_staff_has_no_legal_status_actions(world):
    # given a bank's staff member
    client = _login(world["bank_staff"])
    before = table_counts()

    # when it opens the patents, then it is refused
    assert client.get(f"{ADMIN}/patent/").status_code == 403
    # and a button posted anyway changes nothing
    _mark(client, world["patent"], "lapse")
    world["patent"].refresh_from_db()
    assert world["patent"].status == "in_force"
    assert table_counts() == before


def test_the_fee_year_paid_through_cannot_be_edited_on_the_patent_page(world):
    # given a patent whose fees are paid through year 3 (fees are recorded through the fee service)
    patent = world["patent"]
    type(patent).objects.filter(pk=patent.pk).update(fees_paid_through_year=3)
    client = _login(world["superuser"])

    # when the platform posts the patent's change form claiming fees paid through year 9
    client.post(f"{ADMIN}/patent/{patent.pk}/change/", {"fees_paid_through_year": "9"})

    # then the field is shown read-only and nothing changed: no fee year is skipped without a payment
    patent.refresh_from_db()
    assert patent.fees_paid_through_year == 3
    page = client.get(f"{ADMIN}/patent/{patent.pk}/change/").content.decode()
    assert 'name="fees_paid_through_year"' not in page
