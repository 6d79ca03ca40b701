"""POST /api/v1/auth/register/: SME self-registration (API.md "Parties", DOMAIN.md sections 2 and 4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fintech.models import AuditLog, Organization, User
from tests.fintech.helpers import PASSWORD, USCC_A, USCC_B, register_body, table_counts, uscc

URL = "/api/v1/auth/register/"

pytestmark = pytest.mark.django_db


def _refused(api: Any, body: Any, status: int, **kwargs: Any) -> dict[str, Any]:
    """Post a body that must be refused; assert the status, the error shape and that nothing changed."""
    before = table_counts()
    response = api.post(URL, body, format="json", **kwargs)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    payload = response.json()
    assert set(payload) <= {"code", "message", "fields"}
    assert isinstance(payload["code"], str) and payload["code"]
    assert isinstance(payload["message"], str) and payload["message"]
    assert table_counts() == before
    return payload


# --- success -------------------------------------------------------------------------------------


def test_register_creates_the_sme_and_its_first_user(api):
    # given a small software company in Wuhan
    body = register_body()

    # when it registers
    response = api.post(URL, body, format="json")

    # then the answer is exactly the user and its organisation
    assert response.status_code == 201, response.content
    user = User.objects.get(username="acme")
    org = Organization.objects.get(uscc=USCC_A)
    assert response.json() == {
        "id": user.pk,
        "username": "acme",
        "organization": {
            "id": org.pk,
            "name": "Acme Tech 光谷科技",
            "kind": "sme",
            "uscc": USCC_A,
            "region_code": "420100",
            "external_id": "",
        },
    }
    # and the size profile is stored, with the 2011 size class
    assert org.kind == "sme"
    assert org.industry == "software_it"
    assert org.employees == 80
    assert org.annual_revenue == Decimal("30000000.00")
    assert org.total_assets == Decimal("20000000.00")
    assert org.size_class == "small"
    assert org.region_id == "420100"
    # and the user can log in with the password, which is stored hashed
    assert user.organization == org
    assert user.check_password(PASSWORD)
    assert user.password != PASSWORD
    assert not user.is_staff and not user.is_superuser


def test_register_writes_one_audit_row_without_the_password(api):
    # given an empty audit log
    assert AuditLog.objects.count() == 0

    # when an SME registers
    response = api.post(URL, register_body(), format="json")

    # then one audit row records who registered what
    assert response.status_code == 201
    org = Organization.objects.get(uscc=USCC_A)
    row = AuditLog.objects.get()
    assert row.action == "sme.register"
    assert row.object_type == "fintech.organization"
    assert row.object_id == str(org.pk)
    assert row.actor == User.objects.get(username="acme")
    assert row.actor_organization == org
    assert (row.from_state, row.to_state) == ("", "registered")
    assert row.payload == {"username": "acme", "uscc": USCC_A, "size_class": "small"}
    assert PASSWORD not in str(row.payload)


@pytest.mark.parametrize(
    ("industry", "employees", "revenue", "assets", "size_class"),
    [
        ("software_it", 5, "400000.00", "100000.00", "micro"),
        ("software_it", 80, "30000000.00", "20000000.00", "small"),
        ("software_it", 150, "50000000.00", "20000000.00", "medium"),
        # A large head count is still an SME when the revenue is under the ceiling ("or").
        ("software_it", 500, "99999999.99", "20000000.00", "medium"),
        ("industry", 999, "5000000.00", "1000000.00", "small"),
        ("other", 299, "0.00", "0.00", "medium"),
    ],
)
def test_register_stores_the_size_class(api, industry, employees, revenue, assets, size_class):
    # given an enterprise of a given size
    body = register_body(industry=industry, employees=employees, annual_revenue=revenue, total_assets=assets)

    # when it registers
    response = api.post(URL, body, format="json")

    # then its size class is stored
    assert response.status_code == 201, response.content
    assert Organization.objects.get(uscc=USCC_A).size_class == size_class


def test_register_accepts_money_as_json_numbers_and_canonicalises_the_uscc(api):
    # given amounts as JSON numbers and a USCC typed in lower case with spaces
    body = register_body(annual_revenue=30000000, total_assets=1234.5, uscc=" 9142 0100 ma00 0900 13 ")

    # when it registers
    response = api.post(URL, body, format="json")

    # then the amounts are stored to the fen and the code in its canonical form
    assert response.status_code == 201, response.content
    assert response.json()["organization"]["uscc"] == USCC_A
    org = Organization.objects.get(uscc=USCC_A)
    assert org.annual_revenue == Decimal("30000000.00")
    assert org.total_assets == Decimal("1234.50")


@pytest.mark.parametrize(
    "first17",
    [
        "N1420100MA0000001",  # N: agriculture authorities
        "Y1420100MA0000002",  # Y: other authorities
        "A1420100MA0000003",
    ],
)
def test_register_accepts_letter_first_codes(api, first17):
    # given a valid letter-first USCC (python-stdnum's validate() refuses these)
    code = uscc(first17)

    # when an enterprise registers with it
    response = api.post(URL, register_body(uscc=code), format="json")

    # then it is registered under that code
    assert response.status_code == 201, response.content
    assert response.json()["organization"]["uscc"] == code
    assert Organization.objects.filter(uscc=code, kind="sme").count() == 1


# --- invalid USCC --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("91420100MA0009001", "18 characters, not 17"),
        ("91420100MA000900133", "18 characters, not 19"),
        ("91420100MA0009I013", "is not allowed"),
        ("91420100MA0009O013", "is not allowed"),
        ("91420100MA0009S013", "is not allowed"),
        ("91420100MA0009V013", "is not allowed"),
        ("91420100MA0009Z013", "is not allowed"),
        ("91420100MA0009001-", "is not allowed"),
        # Characters 3-8 must be the six-digit region; the check character is right.
        (uscc("91A20100MA0009001"), "six-digit region code"),
        (uscc("914201M0MA0009001"), "six-digit region code"),
        ("91420100MA00090014", "check character"),
        ("91110000600037341X", "check character"),
    ],
)
def test_register_refuses_an_invalid_uscc(api, code, words):
    # given a code that breaks GB 32100-2015
    body = register_body(uscc=code)

    # when the enterprise registers, then 400 names the field and why; nothing is written
    payload = _refused(api, body, 400)
    assert payload["code"] == "invalid"
    assert list(payload["fields"]) == ["enterprise.uscc"]
    assert len(payload["fields"]["enterprise.uscc"]) == 1
    assert words in payload["fields"]["enterprise.uscc"][0]


@pytest.mark.parametrize("region", ["110000", "420400", "000000", "4201", "abcdef"])
def test_register_refuses_an_unknown_region(api, region):
    # given a region that is not one of the 17 Hubei divisions
    body = register_body(region_code=region)

    # when the enterprise registers, then 400 on enterprise.region_code; nothing is written
    payload = _refused(api, body, 400)
    assert payload["fields"] == {"enterprise.region_code": [f"Unknown region code '{region}'."]}


def test_register_refuses_a_large_enterprise_with_the_rule_in_the_message(api):
    # given a software company at both ceilings (300 employees, revenue 100,000,000.00)
    body = register_body(employees=300, annual_revenue="100000000.00")

    # when it registers
    payload = _refused(api, body, 400)

    # then the message states the ceiling and the figures that break it
    message = (
        "software_it: an SME has fewer than 300 employees or revenue under 100,000,000.00 CNY; "
        "the applicant has 300 employees and revenue of 100,000,000.00 CNY, so it is not an SME "
        "(不属于中小微企业)."
    )
    assert payload == {"code": "not_an_sme", "message": message, "fields": {"enterprise": [message]}}


def test_register_refuses_a_uscc_already_registered_with_409(api):
    # given an SME already registered with the code
    assert api.post(URL, register_body(), format="json").status_code == 201

    # when another user registers the same code (typed in lower case)
    body = register_body(username="other", uscc=USCC_A.lower(), name="Copycat")
    payload = _refused(api, body, 409)

    # then 409 names the field
    assert payload["code"] == "already_registered"
    assert payload["fields"] == {"enterprise.uscc": ["Already registered."]}


def test_register_refuses_a_uscc_held_by_a_bank_with_409(api, bank_user):
    # given a bank's code
    code = bank_user.organization.uscc

    # when an SME registers under it, then 409
    payload = _refused(api, register_body(uscc=code), 409)
    assert payload["code"] == "already_registered"


@pytest.mark.parametrize("taken", ["acme", "ACME", "Acme"])
def test_register_refuses_a_username_already_taken(api, taken):
    # given a registered user "acme"
    assert api.post(URL, register_body(), format="json").status_code == 201

    # when another enterprise registers the same name in any case
    payload = _refused(api, register_body(username=taken, uscc=USCC_B), 400)

    # then 400 names the username
    assert payload["fields"] == {"username": ["This username is taken."]}


@pytest.mark.parametrize(
    ("password", "first_message"),
    [
        ("short1!", "This password is too short. It must contain at least 8 characters."),
        ("password", "This password is too common."),
        ("83921057331", "This password is entirely numeric."),
    ],
)
def test_register_refuses_a_weak_password(api, password, first_message):
    # given a password Django's validators refuse
    body = register_body(password=password)

    # when the enterprise registers, then 400 on password; nothing is written
    payload = _refused(api, body, 400)
    assert list(payload["fields"]) == ["password"]
    assert first_message in payload["fields"]["password"]


def test_register_refuses_a_password_like_the_username(api):
    # given a password that is the username with a digit
    body = register_body(username="opticsvalley", password="opticsvalley7")

    # when the enterprise registers, then 400 on password; nothing is written
    payload = _refused(api, body, 400)
    assert payload["fields"] == {"password": ["The password is too similar to the username."]}


def test_register_with_an_empty_body_names_every_required_field(api):
    # given an empty object
    # when it is posted, then each top-level field is required
    payload = _refused(api, {}, 400)
    assert payload["fields"] == {
        "username": ["This field is required."],
        "password": ["This field is required."],
        "enterprise": ["This field is required."],
    }


@pytest.mark.parametrize(
    "missing", ["name", "uscc", "region_code", "industry", "employees", "annual_revenue", "total_assets"]
)
def test_register_without_an_enterprise_field_names_it(api, missing):
    # given an enterprise without one of its fields
    body = register_body()
    del body["enterprise"][missing]

    # when it is posted, then the dotted field is required
    payload = _refused(api, body, 400)
    assert payload["fields"] == {f"enterprise.{missing}": ["This field is required."]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("employees", "abc"),
        ("employees", -1),
        ("employees", 1.5),
        ("employees", True),
        ("employees", None),
        ("employees", [80]),
        ("annual_revenue", "1e3"),
        ("annual_revenue", "NaN"),
        ("annual_revenue", "Infinity"),
        ("annual_revenue", "-5"),
        ("annual_revenue", "1.234"),
        ("annual_revenue", True),
        ("annual_revenue", None),
        ("annual_revenue", ""),
        ("annual_revenue", "1,000.00"),
        ("annual_revenue", {"amount": "1.00"}),
        ("annual_revenue", -5),
        ("annual_revenue", 1e20),
        ("total_assets", "1E3"),
        ("total_assets", "0.001"),
        ("industry", "banking"),
        ("industry", 7),
        ("uscc", ["91420100MA00090013"]),
        ("name", ""),
    ],
)
def test_register_refuses_a_wrongly_typed_enterprise_field(api, field, value):
    # given an enterprise field of the wrong type or notation
    body = register_body(**{field: value})

    # when it is posted, then 400 names that field; nothing is written
    payload = _refused(api, body, 400)
    assert list(payload["fields"]) == [f"enterprise.{field}"]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "acme", "password": PASSWORD, "enterprise": "Acme"},
        {"username": "acme", "password": PASSWORD, "enterprise": ["Acme"]},
        {"username": "acme", "password": PASSWORD, "enterprise": None},
    ],
)
def test_register_refuses_an_enterprise_that_is_not_an_object(api, body):
    # given an enterprise that is not a JSON object
    # when it is posted, then 400 on enterprise
    payload = _refused(api, body, 400)
    assert [key.split(".")[0] for key in payload["fields"]] == ["enterprise"]


@pytest.mark.parametrize("username", ["", "a b", "x" * 151, "名字?", 42.5])
def test_register_refuses_a_bad_username(api, username):
    # given a username Django's user model would not accept
    # when it is posted, then 400 on username
    payload = _refused(api, register_body(username=username), 400)
    assert list(payload["fields"]) == ["username"]


# --- throttling ----------------------------------------------------------------------------------


def test_register_is_throttled_past_the_auth_rate(api, settings):
    # given an auth rate of 2 requests a minute
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "2/min"}}
    assert api.post(URL, register_body(), format="json").status_code == 201
    assert api.post(URL, register_body(username="second", uscc=USCC_B), format="json").status_code == 201

    # when a third registration comes from the same address within the minute
    body = register_body(username="third", uscc=uscc("91420100MA0009003"))
    response_payload = _refused(api, body, 429)

    # then it is refused in the error shape, and the client is told when to retry
    assert response_payload["code"] == "throttled"
    assert response_payload["message"].startswith("Request was throttled.")
    assert not User.objects.filter(username="third").exists()


def test_register_throttle_reports_retry_after(api, settings):
    # given an auth rate of 1 request a minute, used up
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1/min"}}
    assert api.post(URL, {}, format="json").status_code == 400

    # when the next request comes
    response = api.post(URL, register_body(), format="json")

    # then 429 with a Retry-After of at most a minute
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert not Organization.objects.exists()


def test_register_throttle_counts_per_client_address(api, settings):
    # given an auth rate of 1 request a minute, used up by one address
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1/min"}}
    assert api.post(URL, register_body(), format="json", REMOTE_ADDR="10.0.0.1").status_code == 201

    # when another address registers, then it is not throttled
    body = register_body(username="second", uscc=USCC_B)
    assert api.post(URL, body, format="json", REMOTE_ADDR="10.0.0.2").status_code == 201


# --- the service, called directly (the demo seeder and future importers do) ---------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"industry": "banking"}, "enterprise.industry"),
        ({"employees": -1}, "enterprise"),
        ({"annual_revenue": Decimal("-0.01")}, "enterprise"),
        ({"username": "a b"}, "username"),
        ({"username": ""}, "username"),
    ],
)
def test_sme_register_service_names_the_field_it_refuses(overrides, field):
    # given input the API's serializer would have stopped, handed straight to the service
    from fintech.errors import InvalidInput
    from fintech.services.parties import sme_register

    kwargs: dict[str, Any] = {
        "username": "acme",
        "password": PASSWORD,
        "name": "Acme",
        "uscc": USCC_A,
        "region_code": "420100",
        "industry": "software_it",
        "employees": 80,
        "annual_revenue": Decimal("30000000.00"),
        "total_assets": Decimal("20000000.00"),
    }
    kwargs.update(overrides)
    before = table_counts()

    # when the service runs, then it refuses with a field error; nothing is written
    with pytest.raises(InvalidInput) as excinfo:
        sme_register(**kwargs)
    assert list(excinfo.value.fields) == [field]
    assert table_counts() == before


def test_register_throttle_ignores_a_forged_forwarded_for(api, settings):
    # given an auth rate of 1 request a minute, used up, and no proxy configured (NUM_PROXIES unset)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1/min"}}
    assert api.post(URL, register_body(), format="json", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 201

    # when the same client claims another address in X-Forwarded-For
    body = register_body(username="second", uscc=USCC_B)
    payload = _refused(api, body, 429, HTTP_X_FORWARDED_FOR="2.2.2.2")

    # then it is still throttled
    assert payload["code"] == "throttled"


def test_register_throttle_uses_the_forwarded_address_behind_a_configured_proxy(api, settings):
    # given one trusted proxy in front of the app, and an auth rate of 1 request a minute
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "1/min"},
        "NUM_PROXIES": 1,
    }
    first = api.post(URL, register_body(), format="json", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert first.status_code == 201

    # when another client comes through the same proxy
    body = register_body(username="second", uscc=USCC_B)
    second = api.post(URL, body, format="json", HTTP_X_FORWARDED_FOR="2.2.2.2")

    # then it has its own allowance, while the first client is throttled
    assert second.status_code == 201
    body = register_body(username="third", uscc=uscc("91420100MA0009003"))
    assert api.post(URL, body, format="json", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 429


def test_token_shares_the_auth_throttle(api, settings, sme_user):
    # given an auth rate of 2 requests a minute
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "2/min"}}
    wrong = {"username": sme_user.username, "password": "Wrong-horse-9!"}

    # when a client guesses passwords
    statuses = [api.post("/api/v1/auth/token/", wrong, format="json").status_code for _ in range(3)]

    # then the third guess within the minute is throttled
    assert statuses == [401, 401, 429]
