"""Issue 12: at 1,366 x 768 no list page scrolls sideways (marker `browser`; screenshots of every
list in artefacts/browser/, named width-<user>-<language>-<app>-<model>).

Each demo role (the platform operator, a superuser; a bank's officer; an insurer (Ping An); an appraiser; the
regulator) signs in with an English and with a Chinese browser and opens every list its admin home
page links to (walked from the page, not a hand-kept list, so a new screen is measured too). On each
the page is no wider than the window, and no element scrolls sideways inside it (the changelist's
result table sits in a box that would scroll rather than widen the page) or sticks out past the
window's right edge. Every offending page is listed with its widths.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import VIEWPORT
from .helpers import Camera, log_in

pytestmark = pytest.mark.browser

# One user of each kind of the demo book (fintech/demo/cast.py); `platform` is the superuser, and
# the insurer is Ping An, whose book has the defaulted loan (loss event, settlements, recovery).
ROLES = ["platform", "bank", "pingan", "appraiser", "regulator"]
LANGUAGES = ["en", "zh-hans"]

# The list pages the home page links to: each model's name in the application tables.
LIST_LINKS = "() => Array.from(document.querySelectorAll('#content-main .module th[scope=row] a'))\
.map(a => a.getAttribute('href'))"

# The page's widths: the document's, the window's (and its width without the vertical scroll
# bar), every visible element that scrolls sideways inside the page, and every visible element
# whose box ends past the window's right edge (the widest first, at most five).
MEASURE = """() => {
    const name = el => el.id ? '#' + el.id : el.tagName.toLowerCase() +
        (typeof el.className === 'string' && el.className.trim()
            ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    const view = window.innerWidth;
    const scrollers = [], wide = [];
    for (const el of document.querySelectorAll('body *')) {
        if (el.checkVisibility && !el.checkVisibility()) { continue; }
        const overflow = getComputedStyle(el).overflowX;
        if ((overflow === 'auto' || overflow === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
            scrollers.push({element: name(el), content: el.scrollWidth, box: el.clientWidth});
        }
        const right = Math.ceil(el.getBoundingClientRect().right);
        if (right > view) { wide.push({element: name(el), right: right}); }
    }
    wide.sort((a, b) => b.right - a.right);
    return {
        page: document.documentElement.scrollWidth,
        window: view,
        visible: document.documentElement.clientWidth,
        scrollers: scrollers,
        wide: wide.slice(0, 5),
    };
}"""


def too_wide(widths: dict[str, Any]) -> bool:
    return bool(
        widths["page"] > widths["window"]
        or widths["page"] > widths["visible"]  # the vertical scroll bar takes its share too
        or widths["scrollers"]
        or widths["wide"]
    )


def describe(url: str, widths: dict[str, Any]) -> str:
    parts = [f"{url}: page {widths['page']} px in a {widths['visible']} px window"]
    parts += [f"{s['element']} scrolls {s['content']} px in {s['box']} px" for s in widths["scrollers"]]
    parts += [f"{w['element']} ends at {w['right']} px" for w in widths["wide"]]
    return "; ".join(parts)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("username", ROLES)
def test_no_list_page_scrolls_sideways(new_page: Any, camera: Camera, username: str, language: str) -> None:
    page = new_page(language)
    log_in(page, username)
    assert page.viewport_size == VIEWPORT
    lists = list(dict.fromkeys(page.evaluate(LIST_LINKS)))
    assert lists, f"{username} sees no list on the admin home page"
    offending = []
    for url in lists:
        page.goto(url)
        page.wait_for_load_state("load")
        assert page.locator("#content").count() == 1, f"{url} did not open for {username}"
        camera.shot(page, f"width-{username}-{language}-{url.strip('/').replace('/', '-')}")
        widths = page.evaluate(MEASURE)
        if too_wide(widths):
            offending.append(describe(url, widths))
    assert not offending, f"{username} ({language}), {len(offending)} of {len(lists)} lists too wide:\n" + (
        "\n".join(offending)
    )
