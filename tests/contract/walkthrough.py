#!/usr/bin/env python3
"""Walk the whole Wuhan flow over HTTP exactly as docs/api.md describes it, the way an integrator's
client would, and report every step that does not answer as the contract says.

It checks paths, methods, field names and status codes, not the figures (the unit and API tests
own those). Run it against a server that uses a fresh database:

    python tests/contract/walkthrough.py --base http://127.0.0.1:8000 --manage "python manage.py"

`.ci/walkthrough` starts gunicorn and a Celery worker on a fresh PostgreSQL database and runs it;
docs/api.md describes each step for an integrator.

Needs `requests`. Exit status 0 when every step answered as the contract says.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shlex
import subprocess
import sys
import time
from decimal import Decimal

import requests

ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
PASSWORD = "Walk-through-9x!"


def uscc(seed: int) -> str:
    body = f"91420100MA{seed:07d}"
    s = sum(ALPHA.index(c) * w for c, w in zip(body, WEIGHTS, strict=True))
    return body + ALPHA[(31 - s % 31) % 31]


def patent_number(year: int, serial: int) -> str:
    digits = f"{year}1{serial:07d}"
    s = sum(int(c) * [2, 3, 4, 5, 6, 7, 8, 9][i % 8] for i, c in enumerate(digits))
    r = s % 11
    return f"{digits}.{'X' if r == 10 else r}"


class Walk:
    def __init__(self, base: str, manage: list[str]):
        self.base, self.manage, self.failures = base.rstrip("/"), manage, 0
        self.seed = random.randrange(10**6)

    def step(self, what: str, r: requests.Response, status: int, keys: tuple[str, ...] = ()) -> dict:
        body: dict = {}
        with contextlib.suppress(ValueError):
            body = r.json() if r.content else {}
        missing = [k for k in keys if not isinstance(body, dict) or k not in body]
        ok = r.status_code == status and not missing
        self.failures += not ok
        print(
            f"{'ok ' if ok else 'BAD'} {r.request.method} {r.request.path_url} -> {r.status_code}"
            f" (want {status}{', missing ' + ', '.join(missing) if missing else ''})  {what}"
        )
        if not ok:
            print("    ", r.text[:300].replace("\n", " "))
        return body if isinstance(body, dict) else {"_list": body}

    def client(self, username: str) -> requests.Session:
        r = requests.post(
            self.base + "/api/v1/auth/token/", json={"username": username, "password": PASSWORD}
        )
        body = self.step("token", r, 200, ("access", "refresh"))
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {body.get('access', '')}"
        return s

    def member(self, kind: str, n: int) -> tuple[requests.Session, int]:
        username = f"walk{kind}{self.seed}"
        cmd = [
            *self.manage,
            "add_member",
            "--kind",
            kind,
            "--org",
            f"Walk {kind} {self.seed}",
            "--uscc",
            uscc(self.seed * 10 + n),
            "--region",
            "420100",
            "--username",
            username,
            "--password",
            PASSWORD,
        ]
        p = subprocess.run(cmd, capture_output=True, text=True)
        print(f"{'ok ' if p.returncode == 0 else 'BAD'} manage.py add_member --kind {kind}")
        self.failures += p.returncode != 0
        s = self.client(username)
        me = self.step("me", s.get(self.base + "/api/v1/me/"), 200, ("organization",))
        return s, me.get("organization", {}).get("id", 0)

    def run(self) -> int:
        b = self.base
        bank, bank_id = self.member("bank", 1)
        insurer, insurer_id = self.member("insurer", 2)
        appraiser, appraiser_id = self.member("appraiser", 3)
        regulator, _ = self.member("regulator", 4)
        sme_uscc = uscc(self.seed * 10 + 5)
        reg = {
            "username": f"walksme{self.seed}",
            "password": PASSWORD,
            "enterprise": {
                "name": f"Walk SME {self.seed}",
                "uscc": sme_uscc,
                "region_code": "420100",
                "industry": "software_it",
                "employees": 80,
                "annual_revenue": "30000000.00",
                "total_assets": "20000000.00",
            },
        }
        self.step("register", requests.post(b + "/api/v1/auth/register/", json=reg), 201)
        sme = self.client(reg["username"])
        bad = dict(
            reg, username=reg["username"] + "x", enterprise=dict(reg["enterprise"], uscc=sme_uscc[:-1] + "?")
        )
        self.step(
            "register with a bad USCC",
            requests.post(b + "/api/v1/auth/register/", json=bad),
            400,
            ("code", "message", "fields"),
        )
        progs = self.step("programmes", sme.get(b + "/api/v1/programs/"), 200, ("results",))
        program = (progs.get("results") or [{}])[0].get("id")
        pat = self.step(
            "patent",
            sme.post(
                b + "/api/v1/patents/",
                json={
                    "application_number": patent_number(2020, self.seed % 10**7),
                    "title": "Walk patent",
                    "patent_type": "invention",
                    "filing_date": "2020-04-01",
                    "grant_date": "2022-04-01",
                    "patentees": [{"name": reg["enterprise"]["name"], "uscc": sme_uscc}],
                    "claims_count": 9,
                },
            ),
            201,
            ("id", "application_number", "expires_on", "status"),
        )
        app = self.step(
            "application",
            sme.post(
                b + "/api/v1/applications/",
                json={
                    "program": program,
                    "patents": [pat.get("id")],
                    "requested_amount": "1000000.00",
                    "term_months": 12,
                    "repayment_method": "equal_principal",
                    "bank": bank_id,
                    "insurer": insurer_id,
                    "appraiser": appraiser_id,
                    "purpose": "R&D",
                },
            ),
            201,
            ("id", "status"),
        )
        a = app.get("id")
        self.step("submit", sme.post(f"{b}/api/v1/applications/{a}/submit/"), 200)
        vals = self.step("valuations", appraiser.get(b + "/api/v1/valuations/"), 200, ("results",))
        eng = next((v for v in vals.get("results", []) if v.get("application") == a), {})
        self.step(
            "valuation report",
            appraiser.post(
                f"{b}/api/v1/valuations/{eng.get('id')}/report/",
                json={
                    "report_number": f"WALK-{self.seed}",
                    "valuation_date": "2025-02-01",
                    "patents": [
                        {
                            "patent": pat.get("id"),
                            "method": "relief_from_royalty",
                            "revenue_forecast": ["40000000.00", "44000000.00", "48000000.00"],
                            "royalty_rate": "0.04",
                            "tax_rate": "0.25",
                            "discount_rate": "0.14",
                            "indicators": {"legal": 80, "technical": 75, "economic": 78},
                        }
                    ],
                    "enterprise": {"operating": 70, "economic_benefit": 72},
                },
            ),
            201,
            ("appraised_value", "risk_grade", "pledge_rate", "credit_ceiling"),
        )
        pol = self.step(
            "policy",
            insurer.post(f"{b}/api/v1/applications/{a}/policy/", json={"premium_rate": "0.02"}),
            201,
            ("id", "policy_number", "insured_amount", "premium_rate", "premium", "status"),
        )
        loan = self.step(
            "approve",
            bank.post(
                f"{b}/api/v1/applications/{a}/approve/",
                json={
                    "principal": "1000000.00",
                    "annual_rate": "0.045",
                    "term_months": 12,
                    "repayment_method": "equal_principal",
                },
            ),
            201,
            ("loan",),
        ).get("loan", {})
        ln = loan.get("id")
        self.step(
            "second approval",
            bank.post(
                f"{b}/api/v1/applications/{a}/approve/",
                json={
                    "principal": "1000000.00",
                    "annual_rate": "0.045",
                    "term_months": 12,
                    "repayment_method": "equal_principal",
                },
            ),
            409,
            ("code", "message"),
        )
        self.step(
            "disburse before the premium",
            bank.post(f"{b}/api/v1/loans/{ln}/disburse/", json={"disbursed_on": "2025-02-20"}),
            409,
        )
        self.step(
            "premium",
            insurer.post(
                f"{b}/api/v1/policies/{pol.get('id')}/premium-payments/",
                json={"amount": pol.get("premium"), "paid_on": "2025-02-10"},
            ),
            201,
        )
        self.step(
            "pledge",
            bank.post(
                f"{b}/api/v1/loans/{ln}/pledge/",
                json={"registration_number": f"WALK{self.seed}", "registered_on": "2025-02-12"},
            ),
            201,
        )
        self.step(
            "disburse",
            bank.post(f"{b}/api/v1/loans/{ln}/disburse/", json={"disbursed_on": "2025-02-20"}),
            200,
        )
        sched = sme.get(f"{b}/api/v1/loans/{ln}/schedule/")
        rows = self.step("schedule", sched, 200).get("_list", [])
        for inst in rows[:3] if isinstance(rows, list) else []:
            amount = str(Decimal(inst["principal_due"]) + Decimal(inst["interest_due"]))
            self.step(
                "repayment",
                bank.post(
                    f"{b}/api/v1/loans/{ln}/repayments/",
                    json={"amount": amount, "paid_on": inst["due_on"]},
                    headers={"Idempotency-Key": f"walk-{self.seed}-{inst['seq']}"},
                ),
                201,
                ("id", "allocations"),
            )
        p = subprocess.run(
            [*self.manage, "close_day", "--as-of", "2025-06-30"], capture_output=True, text=True
        )
        print(f"{'ok ' if p.returncode == 0 else 'BAD'} manage.py close_day --as-of 2025-06-30")
        self.failures += p.returncode != 0
        run = self.step(
            "subsidy run",
            regulator.post(b + "/api/v1/subsidy-runs/", json={"program": program, "period": "2025Q2"}),
            202,
            ("id",),
        )
        for _ in range(120):
            r = regulator.get(f"{b}/api/v1/subsidy-runs/{run.get('id')}/")
            if r.status_code != 200 or r.json().get("status") in ("computed", "failed"):
                break
            time.sleep(0.5)
        self.step(
            "subsidy run done",
            regulator.get(f"{b}/api/v1/subsidy-runs/{run.get('id')}/"),
            200,
            ("status", "interest_total", "premium_total"),
        )
        self.step("subsidies", regulator.get(b + "/api/v1/subsidies/?period=2025Q2"), 200, ("results",))
        self.step("report", regulator.get(b + "/api/v1/reports/subsidies/?period=2025Q2&group_by=bank"), 200)
        r = regulator.get(b + "/api/v1/reports/subsidies/?period=2025Q2&group_by=bank&format=csv")
        self.step("report as CSV", r, 200)
        self.step(
            "a bad token",
            requests.get(f"{b}/api/v1/applications/{a}/", headers={"Authorization": "Bearer nonsense"}),
            401,
        )
        print(f"\n{self.failures} step(s) did not answer as docs/api.md says")
        return 1 if self.failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="http://127.0.0.1:8000")
    ap.add_argument(
        "--manage", default="python manage.py", help="how to call manage.py for this server's database"
    )
    args = ap.parse_args()
    return Walk(args.base, shlex.split(args.manage)).run()


if __name__ == "__main__":
    sys.exit(main())
