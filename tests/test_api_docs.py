"""The API explorer (Swagger UI at /api/v1/docs/, ReDoc at /api/v1/redoc/) is served by the
application itself from drf-spectacular-sidecar's static files: no CDN, so it works offline."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client


class _Assets(HTMLParser):
    """Collect every URL a page loads: scripts, stylesheets, icons, images, and URLs in inline JS."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self._in_script = values.get("src") is None
        for name in ("src", "href"):
            value = values.get(name)
            if value and tag in ("script", "link", "img"):
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline.append(data)


@pytest.fixture
def offline_client(settings) -> Client:
    # Static files straight from the installed apps (what `collectstatic` would copy), served by
    # WhiteNoise as in production; a new Client builds the middleware with these settings.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    return Client()


def _page_assets(client: Client, path: str) -> tuple[str, list[str]]:
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.content.decode()
    parser = _Assets()
    parser.feed(html)
    return html, parser.urls


@pytest.mark.parametrize(
    ("path", "bundle"),
    [
        ("/api/v1/docs/", "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/v1/redoc/", "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ],
)
def test_the_explorer_loads_only_assets_of_our_own_origin(db, offline_client, path, bundle):
    # given the application with no network beyond itself
    # when the explorer page is fetched
    html, urls = _page_assets(offline_client, path)

    # then it names no other host (no CDN, no protocol-relative URL) ...
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", html), html
    assert "cdn.jsdelivr" not in html and "unpkg" not in html

    # ... loads the bundle of the pinned sidecar package from /static/ ...
    assert f"/static/{bundle}" in urls

    # ... and every asset it loads answers from the application itself, non-empty (static files,
    # and Swagger UI's initialiser, served by the page's own view so that the Content-Security-Policy
    # needs no inline script)
    for url in urls:
        assert url.startswith(("/static/", f"{path}?script=")), url
        asset = offline_client.get(url)
        assert asset.status_code == 200, url
        body = b"".join(asset.streaming_content) if asset.streaming else asset.content
        assert len(body) > 100, url


def test_swagger_ui_points_at_our_schema_and_the_schema_answers(db, offline_client):
    # given the Swagger UI page and its initialiser (a script of the same view, no inline script)
    _html, urls = _page_assets(offline_client, "/api/v1/docs/")
    assert "/api/v1/docs/?script=" in urls
    initialiser = offline_client.get("/api/v1/docs/?script=").content.decode()

    # then its initialiser reads the schema of this application, which is served
    assert '"/api/v1/schema/"' in initialiser
    schema = offline_client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/applications/{id}/approve/" in schema.content
