"""The floors of bench/api_lists.py: `GET /api/v1/applications/` and `/api/v1/loans/`, by hand.

It does what the service must do and nothing else: checks the JWT (signature and expiry), runs the
service's SQL statements on a raw cursor (the user, its organisation, the count, the page, the
page's patents: the statements are compiled once from the same querysets and cached per page),
and writes the same JSON by hand with json.dumps. Mounted only by bench/lists_settings.py.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from rest_framework_simplejwt.tokens import AccessToken

from fintech.api.applications import APPLICATION_ROWS
from fintech.models import Application, ApplicationPatent, Loan, Organization, User

PAGE_SIZE = 50
SERVICE_PATH = "/api/v1/applications/"
TZ = ZoneInfo(settings.TIME_ZONE)
_sql: dict[Any, tuple[str, list[Any]]] = {}


def _compiled(key: Any, build: Any) -> tuple[str, list[Any]]:
    if key not in _sql:
        sql, params = build().query.sql_with_params()
        _sql[key] = (sql, list(params))
    return _sql[key]


def _money(v: Decimal | None) -> str | None:
    return None if v is None else f"{v:.2f}"


def _rate(v: Decimal | None) -> str | None:
    if v is None:
        return None
    text = format(v.normalize(), "f")
    return f"{v:.2f}" if len(text.partition(".")[2]) < 2 else text


def _day(v: date | None) -> str | None:
    return None if v is None else v.isoformat()


def _moment(v: datetime) -> str:
    text = v.astimezone(TZ).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _loan(r: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A loan's JSON from its columns (`prefix`: "loan__" when it comes joined to an application)."""
    return {
        "id": r[prefix + "id"],
        "application": r[prefix + "application_id"],
        "program": r[prefix + "program_id"],
        "sme": r[prefix + "sme_id"],
        "bank": r[prefix + "bank_id"],
        "policy": r[prefix + "policy_id"],
        "principal": _money(r[prefix + "principal"]),
        "annual_rate": _rate(r[prefix + "annual_rate"]),
        "term_months": r[prefix + "term_months"],
        "repayment_method": r[prefix + "repayment_method"],
        "status": r[prefix + "status"],
        "approved_on": _day(r[prefix + "approved_on"]),
        "disbursed_on": _day(r[prefix + "disbursed_on"]),
        "maturity_on": _day(r[prefix + "maturity_on"]),
        "settled_on": _day(r[prefix + "settled_on"]),
        "schedule_version": r[prefix + "schedule_version"],
        "grace_days": r[prefix + "grace_days"],
        "default_days_past_due": r[prefix + "default_days_past_due"],
        "external_id": r[prefix + "external_id"],
    }


def _platform(cursor: Any, request: HttpRequest) -> bool:
    """The JWT checked, the user and its organisation read: True for an active platform user."""
    token = AccessToken(request.headers["Authorization"].split(" ", 1)[1])
    sql, _ = _compiled("user", lambda: User.objects.filter(pk=0)[:21])
    cursor.execute(sql, [token["user_id"]])
    user = cursor.fetchone()
    sql, _ = _compiled("org", lambda: Organization.objects.filter(pk=0)[:21])
    cursor.execute(sql, [user[11]])  # organization_id
    org = cursor.fetchone()
    return bool(user[9] and org[7] and org[2] == "platform")  # is_active, is_active, kind


def _page_body(request: HttpRequest, path: str, page: int, count: int, results: list[Any]) -> HttpResponse:
    base = f"http://{request.get_host()}{path}"
    last = (count + PAGE_SIZE - 1) // PAGE_SIZE
    body = {
        "count": count,
        "next": f"{base}?page={page + 1}" if page < last else None,
        "previous": None if page == 1 else base if page == 2 else f"{base}?page={page - 1}",
        "results": results,
    }
    return HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), content_type="application/json"
    )


def floor_applications(request: HttpRequest) -> HttpResponse:
    page = int(request.GET.get("page", "1"))
    with connection.cursor() as cursor:
        if not _platform(cursor, request):
            return HttpResponse(status=403)
        cursor.execute('SELECT COUNT(*) AS "__count" FROM "fintech_application"')
        count = cursor.fetchone()[0]
        offset = (page - 1) * PAGE_SIZE
        sql, params = _compiled(
            ("page", offset),
            lambda: APPLICATION_ROWS.values(Application.objects.order_by("-id"))[offset : offset + PAGE_SIZE],
        )
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        ids = [r["id"] for r in rows]
        sql, _ = _compiled(
            ("patents", len(ids)),
            lambda: (
                ApplicationPatent.objects.filter(application_id__in=ids)
                .order_by("patent_id")
                .values_list("application_id", "patent_id")
            ),
        )
        cursor.execute(sql, ids)
        patents: dict[int, list[int]] = {}
        for application_id, patent_id in cursor.fetchall():
            patents.setdefault(application_id, []).append(patent_id)

    results = []
    for r in rows:
        policy = None
        if r["policy__id"] is not None:
            policy = {
                "id": r["policy__id"],
                "application": r["policy__application_id"],
                "policy_number": r["policy__policy_number"],
                "insured_amount": _money(r["policy__insured_amount"]),
                "premium_rate": _rate(r["policy__premium_rate"]),
                "term_months": r["policy__term_months"],
                "premium": _money(r["policy__premium"]),
                "premium_paid_amount": _money(r["policy__premium_paid_amount"]),
                "premium_paid_on": _day(r["policy__premium_paid_on"]),
                "status": r["policy__status"],
                "external_id": r["policy__external_id"],
            }
        loan = _loan(r, "loan__") if r["loan__id"] is not None else None
        results.append(
            {
                "id": r["id"],
                "status": r["status"],
                "sme": r["sme_id"],
                "program": r["program_id"],
                "patents": patents.get(r["id"], []),
                "requested_amount": _money(r["requested_amount"]),
                "term_months": r["term_months"],
                "repayment_method": r["repayment_method"],
                "bank": r["bank_id"],
                "insurer": r["insurer_id"],
                "appraiser": r["appraiser_id"],
                "purpose": r["purpose"],
                "submitted_on": _day(r["submitted_on"]),
                "appraised_value": _money(r["appraised_value"]),
                "risk_grade": r["risk_grade"],
                "pledge_rate": _rate(r["pledge_rate"]),
                "credit_ceiling": _money(r["credit_ceiling"]),
                "decline_reason": r["decline_reason"],
                "valuation": r["valuation__id"],
                "policy": policy,
                "loan": loan,
                "external_id": r["external_id"],
                "created_at": _moment(r["created_at"]),
            }
        )
    return _page_body(request, SERVICE_PATH, page, count, results)


def floor_loans(request: HttpRequest) -> HttpResponse:
    """`GET /api/v1/loans/` for the platform (it sees every loan): count, page, JSON by hand."""
    from fintech.api.loans import LoanListApi

    page = int(request.GET.get("page", "1"))
    with connection.cursor() as cursor:
        if not _platform(cursor, request):
            return HttpResponse(status=403)
        cursor.execute('SELECT COUNT(*) AS "__count" FROM "fintech_loan"')
        count = cursor.fetchone()[0]
        offset = (page - 1) * PAGE_SIZE
        sql, params = _compiled(
            ("loans", offset),
            lambda: LoanListApi.rows.values(Loan.objects.order_by("-id"))[offset : offset + PAGE_SIZE],
        )
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    results = [_loan(r) for r in rows]
    return _page_body(request, "/api/v1/loans/", page, count, results)
