"""Production refuses unsafe settings at start-up.

A serving process (gunicorn through config.wsgi, a Celery worker or beat through config.celery)
calls refuse_unsafe_settings() before it serves anything: without DJANGO_SECRET_KEY (or with the
built-in local key) anyone who reads the source could sign a token for any user. Tests and
`./dev serve` (DEBUG on, local hosts) keep their local defaults; management commands and Django's
`check --deploy` see the same problems as an error (config.checks).
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1", "testserver"})
MIN_SECRET_KEY_LENGTH = 50


def unsafe_settings(config: Any = settings) -> list[str]:
    """What is unsafe in these settings for a process that serves requests; empty when safe."""
    problems: list[str] = []
    hosts = list(getattr(config, "ALLOWED_HOSTS", []))
    local_only = all(host in LOCAL_HOSTS for host in hosts)
    key = getattr(config, "SECRET_KEY", "") or ""
    if "*" in hosts:
        problems.append("DJANGO_ALLOWED_HOSTS contains the wildcard '*': name the hosts the service answers.")
    if config.DEBUG:
        if not local_only:
            problems.append(
                "DJANGO_DEBUG is on with a non-local host in DJANGO_ALLOWED_HOSTS: debug pages show "
                "settings and code; turn DJANGO_DEBUG off in production."
            )
        return problems
    if not key or key == config.LOCAL_ONLY_SECRET_KEY:
        problems.append(
            "DJANGO_SECRET_KEY is not set: the built-in key is public, anyone could sign tokens. "
            "Set DJANGO_SECRET_KEY to a long random value (for example "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
        )
    elif len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 5:
        problems.append(
            f"DJANGO_SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters."
        )
    return problems


def refuse_unsafe_settings(process: str) -> None:
    """Stop the process with a clear message when the settings are unsafe for production."""
    problems = unsafe_settings()
    if problems:
        message = f"{process} refuses to start with unsafe settings:\n" + "\n".join(
            f"  - {p}" for p in problems
        )
        print(message, file=sys.stderr)
        raise ImproperlyConfigured(message)


@checks.register(checks.Tags.security, deploy=True)
def check_safe_for_production(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`manage.py check --deploy` fails on what a serving process would refuse."""
    return [checks.Error(problem, id="config.E001") for problem in unsafe_settings()]
