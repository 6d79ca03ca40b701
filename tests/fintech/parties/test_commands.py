"""Management commands: add_member and seed_demo (API.md "Management commands")."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from fintech.demo import DEMO_PASSWORD
from fintech.models import AuditLog, Organization, User
from tests.fintech.helpers import FAST_PASSWORD_HASHERS, USCC_A, USCC_B, table_counts

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-horse-9!"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


def add_member(**overrides: str) -> str:
    options = {
        "kind": "bank",
        "org": "Hankou Bank 汉口银行",
        "uscc": USCC_A,
        "region": "420100",
        "username": "teller",
        "password": PASSWORD,
    }
    options.update(overrides)
    out = StringIO()
    args = [f"--{key}={value}" for key, value in options.items()]
    # Commands speak the platform's language (zh-hans); these assertions read the English.
    with translation.override("en"):
        call_command("add_member", *args, stdout=out)
    return out.getvalue()


def test_add_member_creates_the_organisation_and_a_staff_user():
    # given nothing
    # when a bank is onboarded
    output = add_member()

    # then the bank and its user exist, the user can log in and use the review screens
    org = Organization.objects.get(uscc=USCC_A)
    user = User.objects.get(username="teller")
    assert (org.kind, org.name, org.region_id) == ("bank", "Hankou Bank 汉口银行", "420100")
    assert user.organization == org
    assert user.check_password(PASSWORD)
    assert user.is_staff and not user.is_superuser
    assert user.role == "bank"
    assert output == f"bank Hankou Bank 汉口银行 (id {org.pk}, USCC {USCC_A}): user teller added\n"
    # and both creations are audited
    assert sorted(AuditLog.objects.values_list("action", flat=True)) == ["organization.create", "user.create"]


def test_add_member_again_adds_a_second_user_to_the_same_organisation():
    # given an onboarded bank
    add_member()
    org = Organization.objects.get(uscc=USCC_A)

    # when a second member is added with the same USCC (typed in lower case, another name)
    add_member(username="manager", uscc=USCC_A.lower(), org="Another spelling")

    # then the organisation is found by its USCC, not duplicated or renamed
    assert Organization.objects.filter(uscc=USCC_A).count() == 1
    assert Organization.objects.get(uscc=USCC_A).name == "Hankou Bank 汉口银行"
    assert set(User.objects.filter(organization=org).values_list("username", flat=True)) == {
        "teller",
        "manager",
    }
    assert list(AuditLog.objects.order_by("id").values_list("action", flat=True)) == [
        "organization.create",
        "user.create",
        "user.create",
    ]


@pytest.mark.parametrize("kind", ["bank", "insurer", "appraiser", "regulator", "platform"])
def test_add_member_onboards_every_kind(kind):
    # given nothing
    # when a member of that kind is onboarded, then its organisation has that kind
    add_member(kind=kind)
    assert User.objects.get(username="teller").role == kind


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"uscc": "91420100MA00090014"}, "check character"),
        ({"uscc": "91420100MA0009001"}, "18 characters"),
        ({"uscc": "91420100MA0009O013"}, "not allowed"),
        ({"region": "110000"}, "Unknown region code '110000'"),
        ({"password": "123"}, "too short"),
        ({"username": "admin user"}, "Enter a valid username"),
        ({"username": ""}, "cannot be blank"),
        ({"username": "u" * 151}, "at most 150 characters"),
    ],
)
def test_add_member_refuses_bad_input_and_writes_nothing(overrides, words):
    # given nothing
    before = table_counts()

    # when a member is onboarded with bad input, then the command fails (non-zero exit)
    with pytest.raises(CommandError) as excinfo:
        add_member(**overrides)

    # with the reason; nothing is written
    assert words in str(excinfo.value)
    assert table_counts() == before


def test_add_member_refuses_a_bad_uscc_with_a_clear_message():
    # given a USCC with a wrong check character
    before = table_counts()

    # when it is onboarded, then the message names the field and the rule
    with translation.override("en"), pytest.raises(CommandError) as excinfo:
        add_member(uscc="91420100MA00090014")
    assert str(excinfo.value).startswith("The check character of this Unified Social Credit Code is wrong")
    assert "(uscc: " in str(excinfo.value)
    assert table_counts() == before


@pytest.mark.parametrize("kind", ["sme", "bogus"])
def test_add_member_refuses_sme_and_unknown_kinds(kind):
    # given nothing
    before = table_counts()

    # when the kind is sme (SMEs register themselves, with the size check) or unknown, then it fails
    with pytest.raises(CommandError, match="invalid choice"):
        add_member(kind=kind)
    assert table_counts() == before


def test_add_member_refuses_a_username_taken_and_writes_nothing():
    # given a bank member "teller"
    add_member()
    before = table_counts()

    # when an insurer's member is onboarded as "Teller", then it fails; no insurer is created
    with pytest.raises(CommandError, match="taken"):
        add_member(kind="insurer", uscc=USCC_B, username="Teller")
    assert table_counts() == before
    assert not Organization.objects.filter(uscc=USCC_B).exists()


def test_add_member_refuses_a_uscc_of_another_kind():
    # given a bank
    add_member()
    before = table_counts()

    # when an insurer member is onboarded under the bank's USCC, then it fails
    with pytest.raises(CommandError, match=r"belongs to a member of another kind \(Bank, not Insurer\)"):
        add_member(kind="insurer", username="agent")
    assert table_counts() == before


def test_add_member_refuses_to_add_a_member_to_an_sme():
    # given a registered SME
    from decimal import Decimal

    from fintech.services.parties import sme_register

    sme_register(
        username="founder",
        password=PASSWORD,
        name="Acme",
        uscc=USCC_B,
        region_code="420100",
        industry="software_it",
        employees=80,
        annual_revenue=Decimal("100.00"),
        total_assets=Decimal("100.00"),
    )
    before = table_counts()

    # when a bank member is onboarded under the SME's USCC, then it fails
    with pytest.raises(CommandError, match=r"belongs to a member of another kind \(SME, not Bank\)"):
        add_member(uscc=USCC_B)
    assert table_counts() == before


def test_add_member_without_required_options_fails():
    # given nothing
    # when an option is missing, then the command fails
    with pytest.raises(CommandError, match="--password"):
        call_command(
            "add_member", "--kind=bank", "--org=X", f"--uscc={USCC_A}", "--region=420100", "--username=u"
        )


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_seed_demo_creates_the_cast_and_prints_the_credentials():
    # given an empty book
    # when the demo is seeded
    output = _seed()

    # then every party exists, the platform user is a superuser
    kinds = dict(User.objects.values_list("username", "organization__kind"))
    assert kinds == {
        "platform": "platform",
        "bank": "bank",
        "bank2": "bank",
        "insurer": "insurer",
        "insurer2": "insurer",
        "pingan": "insurer",
        "pingan2": "insurer",
        "appraiser": "appraiser",
        "appraiser2": "appraiser",
        "regulator": "regulator",
        "regulator2": "regulator",
        "sme1": "sme",
        "sme2": "sme",
        "sme3": "sme",
        "sme4": "sme",
        "sme5": "sme",
        "sme6": "sme",
    }
    assert User.objects.get(username="platform").is_superuser
    assert (
        User.objects.get(username="regulator").organization
        == User.objects.get(username="regulator2").organization
    )
    assert all(u.check_password(DEMO_PASSWORD) for u in User.objects.all())
    # and the credentials are printed
    assert f"password for all: {DEMO_PASSWORD}" in output
    for username in kinds:
        assert f"  {username} " in output


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_seed_demo_twice_changes_nothing_the_second_time():
    # given a seeded demo
    first_output = _seed()
    counts = table_counts()

    # when it is seeded again
    second_output = _seed()

    # then nothing is added, and the same credentials are printed
    assert table_counts() == counts
    assert second_output == first_output
    # and the book is the whole scenario: on-time, settled and defaulted loans, queues, subsidies
    assert "  loans: 1 approved, 2 active, 2 settled, 1 defaulted" in first_output
    assert (
        "  applications waiting: 1 with the appraiser, 1 with the insurer, 1 with the bank; 1 draft,"
        " 1 declined, 1 withdrawn"
    ) in first_output
    assert counts["Organization"] == 14
    assert counts["User"] == 17
