"""The screens as people use them, in headless Chromium on the demo book (marker `browser`; run
with `./dev test -m browser tests/browser`; screenshots in artefacts/browser/).

The demo's application in the insurer's queue (Ping An, bank CCB, SME Donghu Materials) walks the
rest of the flow: the insurer issues the policy and records the premium, then CCB's loan officer
approves it, registers the pledge and disburses; Hankou Bank's officer, opening the same address,
is refused. The regulator's dashboard draws every chart with data and downloads a CSV; with a
Chinese browser these pages show no English label.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .helpers import Camera, log_in

pytestmark = pytest.mark.browser

APPLICATIONS = "/admin/fintech/application/"
DASHBOARD = "/admin/fintech/regulatordashboard/"
RISK_POOL = "/admin/fintech/regulatordashboard/risk-pool/"
CJK = re.compile(r"[\u3400-\u9fff]")
WORD = re.compile(r"[A-Za-z]{3,}")
# What may stay in Latin letters on a Chinese page: file formats, the currency, demo usernames.
NOT_LABELS = re.compile(
    r"^(CSV|XLSX|CNY|bank2?|insurer2?|pingan2?|regulator2?|platform|appraiser2?|sme[0-9])$"
)


def today() -> str:
    """The business date (the platform's time zone, Asia/Shanghai)."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def press(page: Any, action: str) -> None:
    """Open an action of the application's page (its button) and wait for its form."""
    page.click(f'.object-tools a[href$="/review/{action}/"]')
    page.wait_for_selector("#service-action-form")


def submit(page: Any) -> str:
    """Submit the action's form; the page it lands on says what happened."""
    page.click('#service-action-form input[name="_submit"]')
    page.wait_for_selector(".messagelist")
    return str(page.inner_text(".messagelist"))


def queue_count(page: Any) -> int:
    """The number of applications the queue lists (the list's count line)."""
    text = page.inner_text(".paginator")
    return int(re.search(r"\d+", text).group())  # type: ignore[union-attr]


def test_insurer_then_bank_take_an_application_to_disbursement(new_page: Any, camera: Camera) -> None:
    # the insurer (Ping An) logs in and sees its queue: the application waiting for a policy
    insurer = new_page()
    log_in(insurer, "pingan")
    camera.shot(insurer, "insurer-home")
    insurer.goto(APPLICATIONS)
    assert queue_count(insurer) >= 1
    camera.shot(insurer, "insurer-queue")
    application = insurer.get_attribute("#result_list tbody tr a[href*='/change/']", "href")
    assert application and application.startswith(APPLICATIONS)
    insurer.goto(application)
    camera.shot(insurer, "insurer-application")

    # issues the policy at 2 % a year, then records the premium the SME paid today
    press(insurer, "issue-policy")
    insurer.fill("#id_premium_rate", "0.02")
    camera.shot(insurer, "insurer-issue-policy-form")
    assert "issued" in submit(insurer).lower()
    press(insurer, "record-premium")
    assert insurer.input_value("#id_amount")  # the unpaid premium, filled in
    insurer.fill("#id_paid_on", today())
    camera.shot(insurer, "insurer-premium-form")
    message = submit(insurer)
    camera.shot(insurer, "insurer-premium-recorded")
    assert insurer.locator(".messagelist .success").count() == 1, message

    # CCB's loan officer logs in: the application is now in the bank's queue
    bank = new_page()
    log_in(bank, "bank2")
    bank.goto(APPLICATIONS)
    assert queue_count(bank) >= 1
    assert bank.locator(f"#result_list a[href='{application}']").count() >= 1
    camera.shot(bank, "bank-queue")
    bank.goto(application)
    camera.shot(bank, "bank-application")

    # approves 400,000.00 (the insured amount, filled in) at 4.5 % for the term asked for
    press(bank, "approve")
    assert bank.input_value("#id_principal")
    bank.fill("#id_annual_rate", "0.045")
    camera.shot(bank, "bank-approve-form")
    submit(bank)
    assert bank.locator(".messagelist .success").count() == 1, bank.inner_text(".messagelist")
    camera.shot(bank, "bank-approved")

    # registers the pledge with CNIPA's number, then disburses today
    press(bank, "register-pledge")
    bank.fill("#id_registration_number", "2026420100123")
    bank.fill("#id_registered_on", today())
    submit(bank)
    assert bank.locator(".messagelist .success").count() == 1, bank.inner_text(".messagelist")
    camera.shot(bank, "bank-pledge-registered")
    press(bank, "disburse")
    bank.fill("#id_disbursed_on", today())
    submit(bank)
    assert bank.locator(".messagelist .success").count() == 1, bank.inner_text(".messagelist")
    # nothing is left to do on it: no review button is offered any more
    assert bank.locator('.object-tools a[href*="/review/"]').count() == 0
    camera.shot(bank, "bank-disbursed", full_page=True)

    # Hankou Bank's officer opens the same address: refused, nothing of it is shown
    other = new_page()
    log_in(other, "bank")
    other.goto(application)
    assert not other.url.endswith(application)
    assert other.locator("#application_form, form[id$='_form'] .field-sme").count() == 0
    assert other.locator(".messagelist").count() == 1
    camera.shot(other, "other-bank-refused")


def drawn_charts(page: Any) -> list[dict[str, Any]]:
    """Every canvas of the page with the points its Chart instance plots and the canvas pixels that
    are not transparent (a drawn chart has thousands)."""
    page.wait_for_function(
        "() => { const all = document.querySelectorAll('canvas').length; "
        "return all > 0 && all === document.querySelectorAll('canvas[data-drawn]').length; }"
    )
    return list(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('canvas')).map(canvas => {
                const chart = (window.fintechCharts || {})[canvas.id];
                const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let inked = 0;
                for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) { inked++; } }
                const points = chart ? chart.data.datasets.reduce(
                    (n, d) => n + d.data.filter(v => Number(v) !== 0).length, 0) : 0;
                return {id: canvas.id, chart: !!chart, points: points, inked: inked};
            })"""
        )
    )


def download_csv(page: Any, panel: str) -> list[list[str]]:
    with page.expect_download() as info:
        page.click(f"#panel-{panel} a[data-download='csv']")
    path = Path(info.value.path())
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_the_regulator_dashboard_draws_every_chart_and_downloads(new_page: Any, camera: Camera) -> None:
    page = new_page()
    log_in(page, "regulator")
    camera.shot(page, "regulator-home")
    # the menu leads to the dashboard
    page.click(f"a[href='{DASHBOARD}']")
    charts = drawn_charts(page)
    camera.shot(page, "dashboard-subsidies")
    camera.shot(page, "dashboard-subsidies-full", full_page=True)
    assert [c["id"] for c in charts] == [
        "chart-subsidies-by-period",
        "chart-subsidies-by-region",
        "chart-pipeline",
    ]
    for chart in charts:
        assert chart["chart"] and chart["points"] > 0 and chart["inked"] > 1000, chart

    # the CSV of subsidies by period: the rows of the table under the chart, then the total
    rows = download_csv(page, "subsidies-by-period")
    assert rows[0][0] == "period" and rows[-1][0] == "Total"
    table = page.locator("#panel-subsidies-by-period tbody tr").count()
    assert len(rows) == table + 2
    # the headline's total is the CSV's (grouped digits on the page, plain in the file)
    headline = page.inner_text(".dash-kpi-value >> nth=0").replace(",", "")
    assert headline == rows[-1][3]

    # a filter (one quarter of the runs) narrows the figures
    quarter = rows[1][0]
    page.fill("#id_period", quarter)
    page.click("#dashboard-filters button[type=submit]")
    drawn_charts(page)
    assert page.locator("#panel-subsidies-by-period tbody tr").count() == 1
    camera.shot(page, "dashboard-filtered")

    # the risk-pool screen: loss events, recoveries, the fund
    page.click("a[data-tab='risk-pool']")
    page.click("#dashboard-filters a.button")  # clear the filters: all quarters
    charts = drawn_charts(page)
    camera.shot(page, "dashboard-risk-pool")
    camera.shot(page, "dashboard-risk-pool-full", full_page=True)
    assert [c["id"] for c in charts] == ["chart-loss-events", "chart-recoveries", "chart-fund"]
    for chart in charts:
        assert chart["chart"] and chart["points"] > 0 and chart["inked"] > 1000, chart
    report = download_csv(page, "risk-pool")
    assert report[0][:3] == ["loan", "sme", "sme_name"] and report[-1][0] == "TOTAL"
    assert len(report) >= 3  # the demo's defaulted loan, then the totals


# Where a page's labels are (headings, table headers, form labels, buttons, menus, messages); the
# rest of the text is values: names and numbers people entered, amounts, dates, and codes shown
# through their labels.
LABEL_PLACES = (
    "th, label, legend, caption, h1, h2, h3, h4, button, .help, .breadcrumbs, #user-tools, "
    "#nav-sidebar, .object-tools, .paginator, #changelist-filter, .messagelist, .submit-row, "
    ".dash-tabs, .dash-note, .dash-kpi-label, .dash-asof, .dash-empty, thead, tfoot"
)


def texts_of(page: Any) -> list[dict[str, Any]]:
    """Every visible text of the page (and each chart's labels), saying whether it is a label."""
    return list(
        page.evaluate(
            """(places) => {
                const out = [];
                const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                while (walker.nextNode()) {
                    const node = walker.currentNode;
                    const el = node.parentElement;
                    if (!el || el.closest('script, style, noscript, select')) { continue; }
                    if (el.checkVisibility && !el.checkVisibility()) { continue; }
                    out.push({text: node.textContent, label: !!el.closest(places)});
                }
                document.querySelectorAll('input[type=submit], input[type=button]')
                    .forEach(i => out.push({text: i.value, label: true}));
                document.querySelectorAll('select option:checked')
                    .forEach(o => out.push({text: o.textContent, label: true}));
                Object.values(window.fintechCharts || {}).forEach(chart => {
                    chart.data.datasets.forEach(d => out.push({text: d.label, label: true}));
                    chart.data.labels.forEach(l => out.push({text: String(l), label: true}));
                });
                return out;
            }""",
            LABEL_PLACES,
        )
    )


def model_codes() -> set[str]:
    """Every stored code of a choice field (statuses, kinds, methods ...): shown raw, it is English."""
    from django.apps import apps

    return {
        str(value)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        for value, _label in (getattr(field, "choices", None) or [])
        if WORD.search(str(value))
    }


# A code in snake case or dotted: relief_from_royalty, application.policy_issued.
CODE_SHAPE = re.compile(r"^[a-z]+([._][a-z]+)+$")


def english_on(page: Any) -> dict[str, list[str]]:
    """The labels in English (Latin words, no Chinese character: bilingual names carry their
    Chinese) and the values that are raw codes, on the page as it is now."""
    codes = model_codes()
    labels, raw = set(), set()
    for item in texts_of(page):
        text = str(item["text"]).strip()
        if not text or CJK.search(text) or NOT_LABELS.match(text):
            continue
        if item["label"] and WORD.search(text):
            labels.add(text)
        elif not item["label"] and (text in codes or CODE_SHAPE.match(text)):
            raw.add(text)
    return {"labels": sorted(labels), "raw codes": sorted(raw)}


NONE = {"labels": [], "raw codes": []}


def test_a_chinese_browser_sees_no_english_label(new_page: Any, camera: Camera) -> None:
    # the regulator's dashboard, both screens, charts included
    regulator = new_page("zh-hans")
    log_in(regulator, "regulator")
    for name, url in (("dashboard-zh", DASHBOARD), ("dashboard-risk-pool-zh", RISK_POOL)):
        regulator.goto(url)
        drawn_charts(regulator)
        camera.shot(regulator, name)
        assert english_on(regulator) == NONE, url
    # the bank's home page and its queue
    bank = new_page("zh-hans")
    log_in(bank, "bank")
    camera.shot(bank, "bank-home-zh")
    assert english_on(bank) == NONE, "/admin/"
    bank.goto(APPLICATIONS)
    camera.shot(bank, "bank-queue-zh")
    assert english_on(bank) == NONE, APPLICATIONS


def test_a_chinese_browser_sees_no_raw_code_on_the_application_page(new_page: Any, camera: Camera) -> None:
    bank = new_page("zh-hans")
    log_in(bank, "bank")
    bank.goto(APPLICATIONS)
    bank.goto(bank.get_attribute("#result_list tbody tr a[href*='/change/']", "href"))
    camera.shot(bank, "bank-application-zh", full_page=True)
    assert english_on(bank) == NONE, bank.url
