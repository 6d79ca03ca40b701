"""The browser tests' world: the demo book (`manage.py seed_demo`) on a live server (gunicorn, SQLite
in a temporary folder, Celery tasks in process) and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it drives `/usr/bin/chromium` (apt-get install chromium).
Without it the tests skip with the reason printed; under CI=true they fail instead. Screenshots of
every step go to artefacts/browser/ (git-ignored), named in the order they were taken.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers import ROOT, SHOTS, Camera

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoServer:
    url: str
    log: Path


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """migrate + seed_demo on a fresh SQLite file, then gunicorn on a free port (the demo book as
    `./dev serve` shows it: DEBUG on, so static files come from the project)."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium); browser tests not run")
    folder = tmp_path_factory.mktemp("demo")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "CACHE_URL": "",
        "DJANGO_DEBUG": "on",
        "DJANGO_SECURE_SSL_REDIRECT": "off",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MEDIA_ROOT": str(folder / "media"),
    }
    python = sys.executable
    log = folder / "server.log"
    with log.open("w") as out:
        for command in (["migrate", "--noinput", "-v0"], ["seed_demo", "--address", f"127.0.0.1:{port}"]):
            subprocess.run(
                [python, "manage.py", *command], cwd=ROOT, env=env, stdout=out, stderr=out, check=True
            )
    server = subprocess.Popen(
        [
            str(Path(python).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2)  # our own loopback server
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"the demo server stopped: {log.read_text()[-2000:]}")
                time.sleep(0.25)
        yield DemoServer(url=url, log=log)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium); browser tests not run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def camera() -> Camera:
    return Camera()


@pytest.fixture
def new_page(chromium: Any, demo_server: DemoServer) -> Iterator[Any]:
    """new_page(language) -> a page of a fresh browser context (no cookies) at 1,366 x 768 that
    asks for `language` (Accept-Language), and accepts downloads."""
    contexts: list[Any] = []

    def make(language: str = "en") -> Any:
        context = chromium.new_context(
            viewport=VIEWPORT,
            locale="zh-CN" if language.startswith("zh") else "en-US",
            extra_http_headers={"Accept-Language": language},
            accept_downloads=True,
            base_url=demo_server.url,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
