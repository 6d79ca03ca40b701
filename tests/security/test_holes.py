"""The holes found by probing (issue 10, items 1 to 7), each pinned: every test here failed before its fix."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client

from fintech.models import AuditLog, Patent
from fintech.services.audit import json_safe, request_summary
from tests.factories import PASSWORD, OrganizationFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "/api/v1/auth/token/"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "CACHE_")) and key != "DATABASE_URL"
    }
    env.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="off",
        DJANGO_ALLOWED_HOSTS="api.example.cn",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="sqlite:////tmp/pp-issue10-unused.sqlite3",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


# --- 1. deeply nested JSON ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [33, 500, 10_000])
def test_deeply_nested_json_is_a_400_on_an_anonymous_endpoint(api, depth):
    # when a body nested `depth` levels deep is posted to the sign-in endpoint
    response = api.post(TOKEN, data=nested(depth), content_type="application/json")

    # then a 400 in the error shape, not a 500
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["message"] == "JSON 解析错误：嵌套超过 32 层"  # noqa: RUF001  (the default language)


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_on_a_write_and_writes_nothing(client_for, sme_user):
    before = (Patent.objects.count(), AuditLog.objects.count())
    body = '{"number": ' + nested(5_000) + "}"

    response = client_for(sme_user).post("/api/v1/patents/", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert (Patent.objects.count(), AuditLog.objects.count()) == before


def test_the_audit_sanitiser_is_iterative():
    # given a value nested far deeper than Python's recursion limit
    value: Any = "leaf"
    for _ in range(sys.getrecursionlimit() * 5):
        value = [value]
    value = {"password": "x", "deep": value}

    # when the audit makes it JSON-safe, then it does not recurse, and secrets still go
    safe = json_safe(value)
    assert safe["password"] == "***"
    node = safe["deep"]
    while isinstance(node, list):
        node = node[0]
    assert node == "leaf"


def test_the_audit_summary_does_not_keep_a_body_nested_too_deeply():
    shallow = request_summary("POST", "/x", "application/json", b'{"a": [[1.5]], "token": "t"}')
    deep = request_summary("POST", "/x", "application/json", nested(600).encode())
    deeper = request_summary("POST", "/x", "application/json", nested(30_000).encode())

    assert shallow["body"] == {"a": [["1.5"]], "token": "***"}
    assert deep["body"] == "<nested too deeply, not kept>"
    assert deeper["body"] == "<not JSON>"


# --- 2. OPTIONS with a multipart body -------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["sme_user", "bank_user"])
def test_options_with_a_multipart_body_answers(request, client_for, role):
    client = client_for(request.getfixturevalue(role))
    body = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--\r\n'

    response = client.options(
        "/api/v1/repayment-files/", data=body, content_type="multipart/form-data; boundary=x"
    )

    assert response.status_code == 200
    assert response.json()["parses"] == ["multipart/form-data"]


# --- 3 and 2 (deliverable): production refuses unsafe settings at start-up ------------------------


def _start_web(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """What gunicorn does first: import config.wsgi."""
    return subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DJANGO_SECRET_KEY": "<unset>"}, "DJANGO_SECRET_KEY is not set"),
        (
            {"DJANGO_SECRET_KEY": "insecure-local-only-key-change-me-in-production"},
            "DJANGO_SECRET_KEY is not set",
        ),
        ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY is too weak"),
        ({"DJANGO_ALLOWED_HOSTS": "*"}, "wildcard"),
        ({"DJANGO_ALLOWED_HOSTS": "api.example.cn,*"}, "wildcard"),
        ({"DJANGO_DEBUG": "on"}, "DJANGO_DEBUG is on with a non-local host"),
    ],
)
def test_the_web_server_refuses_unsafe_settings(overrides, message):
    result = _start_web(production_env(**overrides))

    assert result.returncode != 0
    assert "The web server refuses to start with unsafe settings" in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # production with a real key and one host
        {
            "DJANGO_SECRET_KEY": "<unset>",
            "DJANGO_DEBUG": "on",
            "DJANGO_ALLOWED_HOSTS": "<unset>",
        },  # ./dev serve
    ],
)
def test_the_web_server_starts_with_safe_or_local_settings(overrides):
    result = _start_web(production_env(**overrides))

    assert result.returncode == 0, result.stderr


def test_a_celery_process_refuses_unsafe_settings(settings):
    from config.celery import _refuse_unsafe_settings

    settings.DEBUG = False
    settings.SECRET_KEY = settings.LOCAL_ONLY_SECRET_KEY
    with pytest.raises(SystemExit):
        _refuse_unsafe_settings()
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    _refuse_unsafe_settings()  # a real key: no exit


def test_check_deploy_errors_on_the_default_key():
    env = production_env(DJANGO_SECRET_KEY="<unset>")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "config.E001" in result.stderr + result.stdout


# --- 5. throttle shared across processes, per-account lockout, a clear 429 -----------------------


def _settings_value(env: dict[str, str], expression: str) -> Any:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_shared_cache_defaults_to_the_brokers_redis():
    broker = production_env(CELERY_BROKER_URL="redis://127.0.0.1:6379/9")
    none = production_env()
    explicit = production_env(CELERY_BROKER_URL="redis://127.0.0.1:6379/9", CACHE_URL="locmemcache://")

    assert _settings_value(broker, "settings.CACHES['default']") == {
        "BACKEND": "config.cache.PrefixedRedisCache",
        "LOCATION": "redis://127.0.0.1:6379/9",
        "KEY_PREFIX": "pp-cache",
    }
    assert _settings_value(none, "settings.CACHES['default']['BACKEND']").endswith("LocMemCache")
    assert _settings_value(explicit, "settings.CACHES['default']['BACKEND']").endswith("LocMemCache")


def _sign_in(api: Any, username: str, password: str, **extra: Any) -> Any:
    return api.post(TOKEN, {"username": username, "password": password}, format="json", **extra)


@pytest.mark.django_db
def test_an_account_is_locked_after_ten_failures_even_with_the_right_password(api, settings, sme_user):
    # given a wide per-address rate, so only the account lockout is in play
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1000/min"}}

    # when ten wrong passwords come from ten addresses
    statuses = [
        _sign_in(api, sme_user.username, "Wrong-horse-9!", REMOTE_ADDR=f"10.0.0.{i}").status_code
        for i in range(10)
    ]
    locked = _sign_in(api, sme_user.username, PASSWORD, REMOTE_ADDR="10.9.9.9")

    # then the tenth failure locks the account (and says so); the eleventh attempt, with the right
    # password from a new address, is refused: locked
    assert statuses == [401] * 9 + [423]
    assert locked.status_code == 423
    assert locked.json()["code"] == "account_locked"
    assert locked["Retry-After"] == "900"  # the lock's 15 minutes (API.md "Auth")
    failures = sum(a.failures_since_start for a in AccessAttempt.objects.filter(username=sme_user.username))
    assert failures == 11

    # and another account is not affected
    other = _sign_in(api, "someone-else", "Wrong-horse-9!")
    assert other.status_code == 401


@pytest.mark.django_db
def test_a_lock_is_visible_and_releasable_in_the_admin(api, settings, sme_user, platform_user):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1000/min"}}
    for _ in range(10):
        _sign_in(api, sme_user.username, "Wrong-horse-9!")
    admin = Client()
    admin.force_login(platform_user)

    # the lock is listed in the admin
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert sme_user.username in listing.content.decode()

    # releasing it (deleting the attempt) lets the right password in again
    attempt = AccessAttempt.objects.get(username=sme_user.username)
    deleted = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert _sign_in(api, sme_user.username, PASSWORD).status_code == 200
    assert AuditLog.objects.filter(action="lockout.release", actor=platform_user).count() == 1

    # and only platform staff see the locks
    bank_staff = Client()
    bank_staff.force_login(UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True))
    assert bank_staff.get("/admin/axes/accessattempt/").status_code == 403


@pytest.mark.django_db
def test_successful_sign_ins_do_not_use_up_the_address_allowance(api, settings, sme_user):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "2/min"}}

    # five colleagues behind one address sign in
    assert [_sign_in(api, sme_user.username, PASSWORD).status_code for _ in range(5)] == [200] * 5

    # two wrong guesses use the allowance up; then even the right password waits, with a clear 429
    assert [_sign_in(api, sme_user.username, "Wrong-horse-9!").status_code for _ in range(2)] == [401, 401]
    throttled = _sign_in(api, sme_user.username, PASSWORD)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 0 < int(throttled["Retry-After"]) <= 60


@pytest.mark.django_db
def test_a_throttled_address_can_still_refresh_its_session(api, settings, sme_user):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "1/min"}}
    refresh = _sign_in(api, sme_user.username, PASSWORD).json()["refresh"]
    assert _sign_in(api, sme_user.username, "Wrong-horse-9!").status_code == 401
    assert _sign_in(api, sme_user.username, PASSWORD).status_code == 429

    response = api.post("/api/v1/auth/token/refresh/", {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert "access" in response.json()


# --- 6. proxy headers, X-Frame-Options on static files, Content-Security-Policy -------------------


def test_proxy_headers_are_trusted_only_with_a_number_of_proxies():
    assert _settings_value(production_env(), "settings.SECURE_PROXY_SSL_HEADER") is None
    assert _settings_value(production_env(DJANGO_NUM_PROXIES="1"), "settings.SECURE_PROXY_SSL_HEADER") == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]


@pytest.mark.django_db
def test_a_client_cannot_claim_https(settings):
    # given production's HTTPS redirect and no proxy configured (the settings' default)
    settings.SECURE_SSL_REDIRECT = True
    assert settings.SECURE_PROXY_SSL_HEADER is None

    # when a plain-HTTP client claims X-Forwarded-Proto: https
    response = Client().get("/api/v1/programs/", HTTP_X_FORWARDED_PROTO="https")

    # then it is still sent to HTTPS, and no HSTS decision was steered
    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert "Strict-Transport-Security" not in response


def test_static_files_carry_x_frame_options_and_csp(settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True

    response = Client().get("/static/admin/css/base.css")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_admin_and_api_docs_work_under_the_content_security_policy(platform_user):
    client = Client()
    login = client.get("/admin/login/")
    docs = client.get("/api/v1/docs/")
    script = client.get("/api/v1/docs/?script=")

    for response in (login, docs):
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    # the docs page has no inline script (its script is served from this origin)
    html = docs.content.decode()
    assert "<script>" not in html
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


# --- 7. a 10,000-character Idempotency-Key through gunicorn ----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = production_env(
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="off",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _raw_request(address: str, headers: dict[str, str]) -> tuple[int, str, dict[str, Any]]:
    host, port = address.split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = (
        f"POST /api/v1/repayment-files/ HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n"
        f"{head}Connection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=90) as sock:
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_text, _, body = data.partition(b"\r\n\r\n")
    lines = head_text.decode("latin1").split("\r\n")
    status = int(lines[0].split()[1])
    content_type = next(
        (line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("content-type:")), ""
    )
    return status, content_type, json.loads(body)


def test_a_long_idempotency_key_reaches_the_api_and_gets_its_error_shape(gunicorn_server):
    # a 10,000-character key passes gunicorn (its fields may be 16 KB) and reaches the API
    status, content_type, body = _raw_request(gunicorn_server, {"Idempotency-Key": "k" * 10_000})
    assert status == 401  # not signed in: the API answers, in its shape
    assert content_type == "application/json"
    assert set(body) == {"code", "message"}

    # a header over gunicorn's own limit is refused before Django, still in the error shape
    status, content_type, body = _raw_request(gunicorn_server, {"Idempotency-Key": "k" * 40_000})
    assert status == 431
    assert content_type == "application/json"
    assert body["code"] == "request_too_large"


# --- found by the bad-input corpus: a JSON number in exponent notation passed as plain money --------


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["1E-2", "1e2", "1.5e0"])
def test_a_json_number_in_exponent_notation_is_refused(client_for, sme_user, raw):
    before = (Patent.objects.count(), AuditLog.objects.count())
    body = '{"program": 1, "amount": ' + raw + ', "received_on": "2025-06-01"}'

    response = client_for(sme_user).post(
        "/api/v1/risk-fund/top-ups/", data=body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["amount"]
    assert (Patent.objects.count(), AuditLog.objects.count()) == before
