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
        self.repayment_ids: list[int] = []

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
        paid: list[dict] = []
        for inst in rows[:3] if isinstance(rows, list) else []:
            amount = str(Decimal(inst["principal_due"]) + Decimal(inst["interest_due"]))
            paid.append(inst)
            self.repayment_ids.append(0)
            self.repayment_ids[-1] = self.step(
                "repayment",
                bank.post(
                    f"{b}/api/v1/loans/{ln}/repayments/",
                    json={"amount": amount, "paid_on": inst["due_on"]},
                    headers={"Idempotency-Key": f"walk-{self.seed}-{inst['seq']}"},
                ),
                201,
                ("id", "allocations"),
            ).get("id", 0)
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
        self.servicing(bank, insurer, regulator, ln, pol.get("id"), paid)
        self.step(
            "a bad token",
            requests.get(f"{b}/api/v1/applications/{a}/", headers={"Authorization": "Bearer nonsense"}),
            401,
        )
        print(f"\n{self.failures} step(s) did not answer as docs/api.md says")
        return 1 if self.failures else 0

    def servicing(
        self,
        bank: requests.Session,
        insurer: requests.Session,
        regulator: requests.Session,
        ln: int,
        policy: int,
        paid: list[dict],
    ) -> None:
        """Payoff, partial prepayment, extension and a reversal after a subsidy (docs/api.md)."""
        b = self.base
        # The 2025Q2 run computed installment 3's subsidy: the bounced transfer cancels it.
        self.step(
            "reversal after a subsidy",
            bank.post(
                f"{b}/api/v1/repayments/{self.repayment_ids[-1]}/reversal/",
                json={"reversed_on": "2025-06-02", "reason": "transfer bounced"},
            ),
            201,
        )
        subsidies = self.step(
            "subsidies after the reversal",
            regulator.get(b + "/api/v1/subsidies/?period=2025Q2&status=cancelled"),
            200,
            ("results",),
        )
        if not subsidies.get("results"):
            self.failures += 1
            print("BAD the reversed installment's subsidy is not cancelled")
        third = paid[-1] if paid else {}
        owed = str(Decimal(third.get("principal_due", "0")) + Decimal(third.get("interest_due", "0")))
        self.step(
            "repayment again",
            bank.post(f"{b}/api/v1/loans/{ln}/repayments/", json={"amount": owed, "paid_on": "2025-06-03"}),
            201,
        )
        self.step(
            "payoff quote",
            bank.get(f"{b}/api/v1/loans/{ln}/payoff/?on=2025-06-05"),
            200,
            ("on", "overdue", "principal", "accrued_interest", "prepayment_fee", "total"),
        )
        self.step(
            "partial prepayment",
            bank.post(
                f"{b}/api/v1/loans/{ln}/prepayments/",
                json={
                    "kind": "partial",
                    "amount": "100000.00",
                    "value_date": "2025-06-05",
                    "recast": "keep_term",
                },
                headers={"Idempotency-Key": f"walk-{self.seed}-prepay"},
            ),
            201,
            ("id", "schedule_version"),
        )
        self.step("schedule version 1", bank.get(f"{b}/api/v1/loans/{ln}/schedule/?version=1"), 200)
        ext = self.step(
            "extension",
            bank.post(
                f"{b}/api/v1/loans/{ln}/extensions/",
                json={"new_maturity_on": "2026-05-20", "agreed_on": "2025-06-10"},
            ),
            201,
            ("id", "status"),
        )
        endorsed = self.step(
            "endorsement",
            insurer.post(
                f"{b}/api/v1/extensions/{ext.get('id')}/endorse/",
                json={"premium_rate": "0.02", "endorsed_on": "2025-06-11"},
            ),
            200,
            ("premium", "status"),
        )
        self.step(
            "endorsement premium",
            insurer.post(
                f"{b}/api/v1/policies/{policy}/premium-payments/",
                json={"amount": endorsed.get("premium"), "paid_on": "2025-06-12"},
            ),
            201,
        )
        done = self.step("extension in effect", bank.get(f"{b}/api/v1/extensions/{ext.get('id')}/"), 200)
        if done.get("status") != "effective":
            self.failures += 1
            print(f"BAD the extension is '{done.get('status')}', not in effect")
        quote = self.step("payoff", bank.get(f"{b}/api/v1/loans/{ln}/payoff/?on=2025-06-15"), 200, ("total",))
        self.step(
            "settlement at another amount",
            bank.post(
                f"{b}/api/v1/loans/{ln}/prepayments/",
                json={"kind": "settle", "amount": "1.00", "value_date": "2025-06-15"},
            ),
            400,
            ("code", "message", "fields", "payoff"),
        )
        self.step(
            "early settlement",
            bank.post(
                f"{b}/api/v1/loans/{ln}/prepayments/",
                json={"kind": "settle", "amount": quote.get("total"), "value_date": "2025-06-15"},
                headers={"Idempotency-Key": f"walk-{self.seed}-settle"},
            ),
            201,
            ("id", "schedule_version"),
        )
        loan = self.step("settled loan", bank.get(f"{b}/api/v1/loans/{ln}/"), 200, ("status",))
        if loan.get("status") != "settled":
            self.failures += 1
            print(f"BAD the loan is '{loan.get('status')}' after the early settlement")


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
