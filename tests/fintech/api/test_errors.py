"""One error shape for every failure (API.md "Conventions"), the body-size guard and /healthz."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from fintech.models import Organization
from tests.fintech.helpers import USCC_A, register_body, table_counts

REGISTER = "/api/v1/auth/register/"

pytestmark = pytest.mark.django_db


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert set(body) <= {"code", "message", "fields"}
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"username": "acme",}',
        b"{'username': 'acme'}",
        b"\xff\xfe\x00",
        b'{"username": "acme"} trailing',
        b'{"enterprise": {"annual_revenue": NaN}}',
        b'{"enterprise": {"annual_revenue": Infinity}}',
    ],
)
def test_malformed_json_is_400_in_the_error_shape(api, raw):
    # given a body that is not JSON
    before = table_counts()

    # when it is posted as JSON
    response = api.generic("POST", REGISTER, raw, content_type="application/json")

    # then 400 parse_error; nothing is written
    body = _error(response, 400)
    assert body["code"] == "parse_error"
    assert body["message"].startswith("JSON parse error")
    assert table_counts() == before


@pytest.mark.parametrize("raw", ["[]", "[1, 2]", '"text"', "42", "null", "true"])
def test_a_json_value_that_is_not_an_object_is_400(api, raw):
    # given JSON that is not an object
    before = table_counts()

    # when it is posted where an object is expected
    response = api.generic("POST", REGISTER, raw, content_type="application/json")

    # then 400 names no field in particular; nothing is written
    body = _error(response, 400)
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["non_field_errors"]
    assert table_counts() == before


def test_a_json_array_of_patents_is_400(client_for, sme_user):
    # given an SME posting a list of patents at once
    before = table_counts()

    # when it is posted, then 400; nothing is written
    response = client_for(sme_user).post("/api/v1/patents/", [{"title": "x"}], format="json")
    assert _error(response, 400)["fields"] == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }
    assert table_counts() == before


def test_an_unsupported_media_type_is_415_in_the_error_shape(api):
    # given a body in XML
    # when it is posted, then 415 in the error shape
    response = api.generic("POST", REGISTER, "<a/>", content_type="application/xml")
    assert _error(response, 415)["code"] == "unsupported_media_type"


def test_a_body_over_10_mb_is_413_and_nothing_is_written(api):
    # given a registration padded past 10 MB (the test client sets Content-Length)
    body = register_body()
    body["enterprise"]["name"] = "x" * (10 * 1024 * 1024)
    raw = json.dumps(body)
    assert len(raw) > 10 * 1024 * 1024
    before = table_counts()

    # when it is posted
    response = api.generic("POST", REGISTER, raw, content_type="application/json")

    # then 413 in the error shape; nothing is parsed or written
    payload = _error(response, 413)
    assert payload["code"] == "request_too_large"
    assert table_counts() == before


def test_a_body_of_exactly_10_mb_is_not_refused_for_its_size(api):
    # given a body of exactly 10 MB (the limit is "over 10 MB")
    body = register_body()
    raw = json.dumps(body)
    raw = raw[:-1] + " " * (10 * 1024 * 1024 - len(raw)) + "}"
    assert len(raw) == 10 * 1024 * 1024

    # when it is posted, then it is processed normally
    response = api.generic("POST", REGISTER, raw, content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    assert Organization.objects.filter(uscc=USCC_A).exists()


def test_a_multipart_body_over_10_mb_is_413(client_for, sme_user):
    # given an upload over 10 MB
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("big.csv", b"0" * (10 * 1024 * 1024 + 1), content_type="text/csv")
    before = table_counts()

    # when it is posted, then 413 in the error shape; nothing is written
    response = client_for(sme_user).post("/api/v1/patents/", {"file": upload}, format="multipart")
    assert _error(response, 413)["code"] == "request_too_large"
    assert table_counts() == before


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here/", "/api/v1/patents/abc/", "/api/v1/v2/", "/api/v2/patents/", "/nowhere"]
)
def test_an_unknown_url_is_404_json(api, path):
    # given a path that does not exist
    # when it is asked, then 404 in the error shape
    response = api.get(path)
    assert _error(response, 404) == {"code": "not_found", "message": "Not found."}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", REGISTER),
        ("put", REGISTER),
        ("delete", REGISTER),
        ("get", "/api/v1/auth/token/"),
        ("patch", "/api/v1/auth/token/refresh/"),
    ],
)
def test_a_wrong_method_is_405_json(api, method, path):
    # given an endpoint that does not take this method
    # when it is called with it, then 405 in the error shape
    response = getattr(api, method)(path, {}, format="json")
    body = _error(response, 405)
    assert body["code"] == "method_not_allowed"
    assert body["message"] == f'Method "{method.upper()}" not allowed.'


@pytest.mark.parametrize(("method", "path"), [("delete", "/api/v1/me/"), ("put", "/api/v1/patents/")])
def test_a_wrong_method_on_an_authenticated_endpoint_is_405_json(client_for, sme_user, method, path):
    # given an authenticated SME
    # when it calls an endpoint with a method it does not take, then 405 in the error shape
    response = getattr(client_for(sme_user), method)(path, {}, format="json")
    assert _error(response, 405)["code"] == "method_not_allowed"


def test_an_unhandled_exception_in_a_view_is_500_json(api, monkeypatch):
    # given a service that fails unexpectedly
    def broken(**kwargs):
        raise RuntimeError("boom: a secret detail")

    monkeypatch.setattr("fintech.api.parties.sme_register", broken)
    api.raise_request_exception = False

    # when the view calls it
    response = api.post(REGISTER, register_body(), format="json")

    # then 500 in the error shape, revealing nothing of the failure
    assert _error(response, 500) == {"code": "server_error", "message": "Internal error."}
    assert b"secret" not in response.content


def test_an_exception_outside_the_api_views_is_500_json(db, monkeypatch):
    # given a failure below a plain Django view (the health check's database probe)
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr("config.health._database", broken)
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")

    # when it is asked, then Django's handler500 answers in the error shape
    response = client.get("/healthz")
    assert _error(response, 500) == {"code": "server_error", "message": "Internal error."}


def test_a_failed_write_leaves_nothing_behind(api, monkeypatch):
    # given an audit write that fails after the organisation and user rows were created
    from fintech.services import parties

    def failing_audit(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(parties, "audit_record", failing_audit)
    api.raise_request_exception = False
    before = table_counts()

    # when an SME registers, then 500 and the transaction rolled back: nothing is written
    response = api.post(REGISTER, register_body(), format="json")
    assert _error(response, 500)["code"] == "server_error"
    assert table_counts() == before


def test_errors_speak_chinese_by_default_and_english_on_request(db):
    # given a client that names no language, and one asking for English
    from rest_framework.test import APIClient

    # when both post an empty registration
    default = APIClient().post(REGISTER, {}, format="json").json()
    english = APIClient(HTTP_ACCEPT_LANGUAGE="en").post(REGISTER, {}, format="json").json()

    # then the platform's language is Chinese, English on request
    assert default["fields"]["username"] == ["该字段是必填项。"]
    assert english["fields"]["username"] == ["This field is required."]


def test_healthz_on_the_default_settings(db, settings):
    # given the default settings (no broker: tasks run in process)
    settings.CELERY_BROKER_URL = None

    # when the health check is asked
    response = Client().get("/healthz")

    # then the database is reachable and the broker is in-process
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "in-process"}


def test_healthz_with_an_unreachable_broker_is_503(db, settings, monkeypatch):
    # given a broker URL nobody listens on (Celery prefers the environment variable to its conf)
    from config.celery import app

    dead = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_URL = dead
    monkeypatch.setenv("CELERY_BROKER_URL", dead)
    monkeypatch.setitem(app.conf, "broker_url", dead)

    # when the health check is asked
    response = Client().get("/healthz")

    # then it reports the broker error with 503
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error: ")


@pytest.mark.broker
def test_healthz_with_the_configured_broker(db):
    # given the broker of CELERY_BROKER_URL
    # when the health check is asked, then both the database and the broker answer
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_is_not_redirected_to_https_in_production(db, settings):
    # given production's HTTPS redirect
    settings.SECURE_SSL_REDIRECT = True
    settings.CELERY_BROKER_URL = None

    # when a load balancer probes /healthz over plain HTTP, then it answers (not 301)
    assert Client().get("/healthz").status_code == 200
    # while the API is redirected
    assert Client().get("/api/v1/me/").status_code == 301


def test_the_openapi_schema_and_docs_are_served_to_anyone(api):
    # given no credentials
    # when the schema and the Swagger UI are asked
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = api.get("/api/v1/docs/")

    # then both are served, and the schema documents the foundation's endpoints
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in [
        "/api/v1/auth/register/",
        "/api/v1/auth/token/",
        "/api/v1/me/",
        "/api/v1/organizations/",
        "/api/v1/programs/",
        "/api/v1/patents/",
        "/api/v1/patents/{id}/",
    ]:
        assert path in paths
    assert docs.status_code == 200
