"""What is printed matches what happens: the demo's URLs name the address actually served, and
in-process Celery (no broker) prints no broker-library noise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from fintech.management.commands.seed_demo import base_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("9000", "http://127.0.0.1:9000"),
        ("0.0.0.0:8080", "http://0.0.0.0:8080"),
        ("localhost:8001", "http://localhost:8001"),
        ("[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_the_demo_urls_name_the_address_runserver_serves(address, url):
    # given an address in any form `runserver` accepts, when the demo prints its URLs, then they
    # name that address
    assert base_url(address) == url


def test_an_address_runserver_would_refuse_is_refused():
    with pytest.raises(CommandError, match="not a port number"):
        base_url("http://example.cn:80/")


def test_tasks_in_process_print_no_broker_noise():
    # given the embedded default: no broker configured (tasks run in process)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    code = (
        "import django; django.setup()\n"
        "from config.celery import app\n"
        "assert app.conf.task_always_eager\n"
        "with app.producer_or_acquire() as producer:\n"  # what every task.delay() goes through
        "    print(producer.connection.transport_cls)\n"
    )

    # when a task is dispatched the way .delay() does in process
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    # then it uses the in-memory transport and kombu logs nothing ("No hostname was supplied ...")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "memory"
    assert result.stderr == ""
