"""Settings: production-like environment passes Django's deployment checks; locale and time zone."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_")) and key not in {"AUTH_THROTTLE_RATE", "EMAIL_URL"}
    }
    env.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="off",
        DJANGO_ALLOWED_HOSTS="api.example.cn",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(overrides)
    return env


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_like_settings():
    # given a production-like environment (long random secret, debug off, one host)
    env = _production_env()

    # when Django's deployment checks run, failing on any warning
    result = _check(env)

    # then they pass
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_without_a_secret_key():
    # given production settings that forgot DJANGO_SECRET_KEY (the local default is used)
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]

    # when the deployment checks run, then they fail on the insecure key
    result = _check(env)
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_time_zone_and_languages():
    # given the settings
    # then business dates are Shanghai dates, and the platform speaks Chinese and English
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]


def test_api_defaults():
    # given the settings
    # then the API contract's defaults hold: 10 MB bodies, pages of 50, the auth throttle, JSON only
    rest: dict[str, Any] = settings.REST_FRAMEWORK
    assert settings.MAX_REQUEST_BODY_BYTES == 10 * 1024 * 1024
    assert rest["PAGE_SIZE"] == 50
    assert rest["DEFAULT_THROTTLE_RATES"]["auth"] == os.environ.get("AUTH_THROTTLE_RATE", "20/min")
    assert rest["EXCEPTION_HANDLER"] == "config.api.exception_handler"
    assert settings.DATABASES["default"]["ATOMIC_REQUESTS"] is False
