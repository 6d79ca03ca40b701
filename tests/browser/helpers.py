"""Helpers of the browser tests: the screenshot camera and the admin's sign-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artefacts" / "browser"
PASSWORD = "Demo-pledge-2025!"  # fintech/demo/cast.py DEMO_PASSWORD


@dataclass
class Camera:
    """Screenshots numbered in the order they are taken, for people to follow the story."""

    taken: list[Path] = field(default_factory=list)

    def shot(self, page: Any, name: str, *, full_page: bool = False) -> Path:
        path = SHOTS / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path


def log_in(page: Any, username: str) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
