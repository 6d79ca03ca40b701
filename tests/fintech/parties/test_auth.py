"""Tokens and /me/ (API.md "Conventions" and "Parties")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.factories import PASSWORD
from tests.fintech.helpers import make_org, make_user, table_counts

TOKEN = "/api/v1/auth/token/"
REFRESH = "/api/v1/auth/token/refresh/"
ME = "/api/v1/me/"

pytestmark = pytest.mark.django_db


def _bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_token_with_the_right_password_gives_access_and_refresh(api, sme_user):
    # given an SME user
    # when it asks for a token with its password
    response = api.post(TOKEN, {"username": sme_user.username, "password": PASSWORD}, format="json")

    # then it gets exactly an access and a refresh token, and the access token identifies it
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert AccessToken(body["access"])["user_id"] == str(sme_user.pk)
    assert RefreshToken(body["refresh"])["user_id"] == str(sme_user.pk)


@pytest.mark.parametrize(
    "credentials",
    [
        {"password": "Wrong-horse-9!"},
        {"password": ""},
        {"username": "nobody"},
    ],
)
def test_token_with_wrong_credentials_is_401_in_the_error_shape(api, sme_user, credentials):
    # given an SME user and wrong credentials
    body = {"username": sme_user.username, "password": PASSWORD, **credentials}
    before = table_counts()

    # when it asks for a token
    response = api.post(TOKEN, body, format="json")

    # then 401 in the error shape (or 400 naming the empty field), and nothing is written
    if body["password"] == "":
        assert response.status_code == 400
        assert response.json()["fields"] == {"password": ["This field may not be blank."]}
    else:
        assert response.status_code == 401
        assert response.json() == {
            "code": "no_active_account",
            "message": "No active account found with the given credentials",
        }
    assert table_counts() == before


def test_token_for_an_inactive_user_is_401(api, sme_user):
    # given a deactivated user
    sme_user.is_active = False
    sme_user.save()

    # when it asks for a token with the right password, then 401
    response = api.post(TOKEN, {"username": sme_user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"


def test_token_without_fields_is_400_naming_them(api, db):
    # given nothing
    # when an empty body asks for a token, then 400 names both fields
    response = api.post(TOKEN, {}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "username: This field is required.",
        "fields": {"username": ["This field is required."], "password": ["This field is required."]},
    }


def test_refresh_gives_a_new_access_token_that_works(api, sme_user):
    # given a refresh token
    refresh = api.post(TOKEN, {"username": sme_user.username, "password": PASSWORD}, format="json").json()[
        "refresh"
    ]

    # when it is exchanged
    response = api.post(REFRESH, {"refresh": refresh}, format="json")

    # then a new access token comes back, and /me/ accepts it
    assert response.status_code == 200
    assert set(response.json()) == {"access"}
    me = api.get(ME, **_bearer(response.json()["access"]))
    assert me.status_code == 200
    assert me.json()["username"] == sme_user.username


@pytest.mark.parametrize("refresh", ["garbage", ""])
def test_refresh_with_a_bad_token_is_refused(api, db, refresh):
    # given a token that is not a refresh token
    # when it is exchanged, then 401 (or 400 for an empty field) in the error shape
    response = api.post(REFRESH, {"refresh": refresh}, format="json")
    if refresh:
        assert response.status_code == 401
        assert response.json() == {"code": "token_not_valid", "message": "Token is invalid"}
    else:
        assert response.status_code == 400
        assert response.json()["fields"] == {"refresh": ["This field may not be blank."]}


def test_refresh_refuses_an_access_token(api, sme_user):
    # given an access token (not a refresh token)
    access = str(AccessToken.for_user(sme_user))

    # when it is used as a refresh token, then 401
    response = api.post(REFRESH, {"refresh": access}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_me_without_a_token_is_401(api, db):
    # given no credentials
    # when /me/ is asked, then 401 in the error shape, with the scheme to use
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Bearer garbage", "Bearer ", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Token abc"],
)
def test_me_with_a_garbage_token_is_401(api, db, header):
    # given a malformed Authorization header
    # when /me/ is asked, then 401 in the error shape
    response = api.get(ME, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] in {"token_not_valid", "not_authenticated", "bad_authorization_header"}


def test_me_with_an_expired_access_token_is_401(api, sme_user):
    # given an access token that expired a minute ago
    token = AccessToken.for_user(sme_user)
    token.set_exp(from_time=timezone.now() - timedelta(minutes=31))
    assert token["exp"] < timezone.now().timestamp()

    # when /me/ is asked with it, then 401 in the error shape
    response = api.get(ME, **_bearer(str(token)))
    assert response.status_code == 401
    assert response.json() == {
        "code": "token_not_valid",
        "message": "Given token not valid for any token type",
    }


def test_me_with_a_token_signed_by_another_key_is_401(api, sme_user):
    # given a token signed with another secret
    from rest_framework_simplejwt.backends import TokenBackend

    forged = TokenBackend("HS256", signing_key="not-our-key-but-long-enough-for-hs256-0123456789").encode(
        {"token_type": "access", "user_id": str(sme_user.pk), "exp": 4102444800, "jti": "x"}
    )

    # when /me/ is asked with it, then 401
    assert api.get(ME, **_bearer(forged)).status_code == 401


def test_me_with_a_token_of_a_deactivated_user_is_401(api, sme_user):
    # given a valid token of a user deactivated since
    token = str(AccessToken.for_user(sme_user))
    sme_user.is_active = False
    sme_user.save()

    # when /me/ is asked, then 401
    response = api.get(ME, **_bearer(token))
    assert response.status_code == 401
    assert response.json()["code"] == "user_inactive"


def test_me_for_an_sme_user(client_for, sme_user):
    # given an SME user
    org = sme_user.organization

    # when it asks /me/
    response = client_for(sme_user).get(ME)

    # then exactly its identity, role and organisation
    assert response.status_code == 200
    assert response.json() == {
        "id": sme_user.pk,
        "username": sme_user.username,
        "role": "sme",
        "organization": {
            "id": org.pk,
            "name": org.name,
            "kind": "sme",
            "uscc": org.uscc,
            "region_code": "420100",
            "external_id": "",
        },
    }


def test_me_for_a_bank_member(client_for, db):
    # given a bank in Yichang with an external id, and one of its staff
    bank = make_org(kind="bank", name="Hankou Bank", region_id="420500", external_id="HKB-01")
    user = make_user(organization=bank, username="teller")

    # when the member asks /me/
    response = client_for(user).get(ME)

    # then its role is the organisation's kind
    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "username": "teller",
        "role": "bank",
        "organization": {
            "id": bank.pk,
            "name": "Hankou Bank",
            "kind": "bank",
            "uscc": bank.uscc,
            "region_code": "420500",
            "external_id": "HKB-01",
        },
    }


@pytest.mark.parametrize("kind", ["insurer", "appraiser", "regulator", "platform"])
def test_me_role_is_the_organisation_kind(client_for, db, kind):
    # given a member of an organisation of that kind
    user = make_user(organization=make_org(kind=kind))

    # when it asks /me/, then its role is the kind
    response = client_for(user).get(ME)
    assert response.json()["role"] == kind
    assert response.json()["organization"]["kind"] == kind


def test_me_for_a_platform_superuser_without_organisation(client_for, db):
    # given a superuser created with createsuperuser (no organisation)
    user = make_user(organization=None, username="root", is_superuser=True, is_staff=True)

    # when it asks /me/, then it is the platform, with no organisation
    response = client_for(user).get(ME)
    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "username": "root", "role": "platform", "organization": None}
