"""Every worked example of docs/rules.md, executed.

The page's `figures` blocks are parsed here and fed to the code that applies each rule: the pure
functions of fintech/rules and valuation, or the real services on a test database. A figure on the
page that the code does not reproduce fails its example; an example without a check here, or a
check without an example on the page, fails `test_every_example_is_checked`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from fintech.errors import SamePersonApproval
from fintech.models import Installment, Loan, SubsidyEntitlement
from fintech.money import split_by_ratios
from fintech.rules.identifiers import (
    InvalidIdentifier,
    parse_patent_number,
    patent_check_character,
    patent_expiry,
    uscc_check_character,
    validate_uscc,
)
from fintech.rules.loss import split_loss
from fintech.rules.schedules import build_schedule
from fintech.rules.sme_size import classify_enterprise
from fintech.rules.subsidies import apply_cap, premium_subsidy
from fintech.selectors.defaults import loan_loss_for
from fintech.services.close import close_run_dispatch
from fintech.services.extensions import loan_extension_endorse, loan_extension_request
from fintech.services.policies import policy_premium, premium_payment_record
from fintech.services.prepayments import loan_prepay_partial, loan_settle_early, payoff_quote
from fintech.services.repayments import repayment_record
from fintech.services.risk_pool import recovery_record
from fintech.services.subsidies import subsidy_run_approve, subsidy_run_pay, subsidy_run_start
from tests.builders import active_loan
from tests.factories import OrganizationFactory, UserFactory, wuhan_program
from valuation import public as val

RULES = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
BLOCK = re.compile(r"^```figures id=(?P<id>[\w-]+)\n(?P<body>.*?)^```", re.M | re.S)
D = Decimal
WUHAN_RATIOS = (D(5), D(3), D(2))

Figures = dict[str, str]


def examples() -> dict[str, Figures]:
    """{example id: {left side: right side}} of every `figures` block of docs/rules.md."""
    found: dict[str, Figures] = {}
    for match in BLOCK.finditer(RULES.read_text(encoding="utf-8")):
        assert match["id"] not in found, f"two examples are called {match['id']}"
        figures: Figures = {}
        for line in match["body"].splitlines():
            key, sep, value = line.partition(" = ")
            assert sep, f"{match['id']}: a figures line is 'left = right', not {line!r}"
            figures[key.strip()] = value.strip()
        found[match["id"]] = figures
    return found


def decimals(text: str) -> list[Decimal]:
    return [D(part) for part in text.split()]


def dates(text: str) -> list[date]:
    return [date.fromisoformat(part) for part in text.split()]


CHECKS: dict[str, Callable[..., None]] = {}
NEEDS_DB: set[str] = set()


def check(example_id: str, *, db: bool = False) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the check of one example; a database check also takes `capture`
    (django_capture_on_commit_callbacks: Celery work queued on commit runs in process)."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        CHECKS[example_id] = fn
        if db:
            NEEDS_DB.add(example_id)
        return fn

    return register


# --- 1. identifiers ------------------------------------------------------------------------------


@check("uscc")
def _uscc(f: Figures) -> None:
    assert uscc_check_character(f["first17"]) == f["check"]
    assert validate_uscc(f["valid"]) == f["valid"]
    with pytest.raises(InvalidIdentifier):
        validate_uscc(f["invalid"])


@check("patent-number")
def _patent_number(f: Figures) -> None:
    assert parse_patent_number(f["input"]).canonical == f["canonical"]
    digits = f["invalid"].split(".")[0]
    assert patent_check_character(digits) == f["invalid_check"]
    with pytest.raises(InvalidIdentifier):
        parse_patent_number(f["invalid"])


# --- 14. SME size ---------------------------------------------------------------------------------


@check("sme-size")
def _sme_size(f: Figures) -> None:
    for left, size in f.items():
        industry, employees, revenue = left.split()
        # total assets play no part for these two industries
        got = classify_enterprise(industry, int(employees), D(revenue), D("20000000.00"), on=date(2025, 1, 1))
        assert got == size, left


# --- 2. terms ------------------------------------------------------------------------------------


@check("patent-term")
def _patent_term(f: Figures) -> None:
    for left, expiry in f.items():
        patent_type, filed = left.split()
        assert patent_expiry(patent_type, date.fromisoformat(filed)) == date.fromisoformat(expiry), left


# --- 3. valuation --------------------------------------------------------------------------------


@check("valuation", db=True)
def _valuation(f: Figures, capture: Callable) -> None:
    value = val.relief_from_royalty(
        val.RoyaltyInputs(
            revenue_forecast=tuple(decimals(f["revenue"])),
            royalty_rate=D(f["royalty_rate"]),
            tax_rate=D(f["tax_rate"]),
            discount_rate=D(f["discount_rate"]),
        ),
        valuation_date=date(2025, 2, 1),
        expiry_date=date(2040, 4, 1),  # "remaining term well beyond three years"
    )
    assert value == D(f["value"])
    legal, technical, economic, operating, benefit = decimals(f["scores"])
    score = val.composite_score(val.GroupScores(legal, technical, economic, operating, benefit))
    assert score == D(f["composite"])
    assert val.grade_for(score) == f["grade"]
    program = wuhan_program()
    pledge_rate = {"A": program.pledge_rate_a, "B": program.pledge_rate_b, "C": program.pledge_rate_c}[
        val.grade_for(score)
    ]
    assert pledge_rate == D(f["pledge_rate"])
    assert val.credit_ceiling(value, pledge_rate, program.loan_cap) == D(f["credit_ceiling"])


# --- 4. premium ----------------------------------------------------------------------------------


@check("premium", db=True)
def _premium(f: Figures, capture: Callable) -> None:
    for left, premium in f.items():
        if not left.startswith("insured"):
            continue
        _, insured, _, rate, _, months = left.split()
        assert policy_premium(D(insured), D(rate), int(months)) == D(premium), left
    program = wuhan_program()
    assert [program.premium_rate_min, program.premium_rate_max] == decimals(f["band"])
    assert not program.premium_rate_min <= D(f["outside_band"]) <= program.premium_rate_max


# --- 5. schedules --------------------------------------------------------------------------------


@check("schedules")
def _schedules(f: Figures) -> None:
    for method in ("interest_monthly_principal_at_maturity", "equal_principal", "equal_installment"):
        rows = build_schedule(
            D(f["principal"]),
            D(f["annual_rate"]),
            len(dates(f["due_dates"])),
            method,  # type: ignore[arg-type]
            date.fromisoformat(f["disbursed_on"]),
        )
        assert [r.due_on for r in rows] == dates(f["due_dates"]), method
        assert [r.interest_due for r in rows] == decimals(f[f"{method} interest"]), method
        assert [r.principal_due for r in rows] == decimals(f[f"{method} principal"]), method


# --- 6. allocation -------------------------------------------------------------------------------


def _loan(text: str, **extra: object) -> tuple[Loan, object]:
    principal, rate, term, method, disbursed = text.split()
    disbursed_on = date.fromisoformat(disbursed)
    return active_loan(
        principal=D(principal),
        annual_rate=D(rate),
        term_months=int(term),
        method=method,
        disbursed_on=disbursed_on,
        valuation_on=date(disbursed_on.year, disbursed_on.month, 1)
        if disbursed_on.day > 1
        else date(disbursed_on.year - 1, 12, 1),
        **extra,  # type: ignore[arg-type]
    )


def _allocations(text: str) -> list[tuple[int, Decimal, Decimal]]:
    out = []
    for part in text.split(";"):
        _, seq, _, principal, _, interest = part.split()
        out.append((int(seq), D(principal), D(interest)))
    return out


@check("allocation", db=True)
def _allocation(f: Figures, capture: Callable) -> None:
    loan, people = _loan(f["loan"])
    for n in (1, 2):
        amount, _, paid_on = f[f"repayment {n}"].split()
        repayment = repayment_record(
            actor=people.bank,  # type: ignore[attr-defined]
            loan_id=loan.pk,
            amount=D(amount),
            paid_on=date.fromisoformat(paid_on),
        )
        got = [(a.installment.seq, a.principal, a.interest) for a in repayment.allocations.all()]
        assert got == _allocations(f[f"allocations {n}"]), n
    statuses = list(Installment.objects.filter(loan=loan).order_by("seq").values_list("status", flat=True))
    expected = f["status"].split()
    assert statuses[: len(expected)] == expected


# --- 7. default and loss -------------------------------------------------------------------------


def _defaulted_loan(f: Figures, capture: Callable) -> tuple[Loan, object]:
    loan, people = _loan(f["loan"])
    rows = list(Installment.objects.filter(loan=loan).order_by("seq"))
    for row in rows[: int(f["paid"])]:
        repayment_record(
            actor=people.bank,  # type: ignore[attr-defined]
            loan_id=loan.pk,
            amount=row.principal_due + row.interest_due,
            paid_on=row.due_on,
        )
    # The close as `close_day` runs it: one task per chunk, queued on commit (here run in process).
    with capture(execute=True):
        close_run_dispatch(date.fromisoformat(f["close_on"]))
    loan.refresh_from_db()
    return loan, people


@check("default", db=True)
def _default(f: Figures, capture: Callable) -> None:
    loan, _people = _defaulted_loan(f, capture)
    assert loan.status == "defaulted"
    event = loan.loss_event
    assert event.default_on == date.fromisoformat(f["default_on"])
    assert event.loss_amount == D(f["loss"])
    assert f"Daily close {f['close_on']}" in event.reason


# --- 8. split ------------------------------------------------------------------------------------


@check("split")
def _split(f: Figures) -> None:
    for amount, parts in f.items():
        assert split_by_ratios(D(amount), WUHAN_RATIOS) == decimals(parts), amount
        assert list(split_loss(D(amount), WUHAN_RATIOS)) == decimals(parts), amount


# --- 9. recoveries -------------------------------------------------------------------------------


@check("recovery", db=True)
def _recovery(f: Figures, capture: Callable) -> None:
    loan, people = _defaulted_loan(examples()["default"], capture)
    recovery_record(
        actor=people.bank,  # type: ignore[attr-defined]
        loan_id=loan.pk,
        amount=D(f["recovered"]),
        received_on=loan.loss_event.default_on.replace(day=30),
        source="licence of the pledged patent",
    )
    loss = loan_loss_for(people.bank, loan.pk)  # type: ignore[attr-defined]
    assert [loss.shares.insurer, loss.shares.government, loss.shares.bank] == decimals(f["shares"])
    got = [loss.recovered.insurer, loss.recovered.government, loss.recovered.bank]
    assert got == decimals(f["recovered_parts"])
    assert [loss.net.insurer, loss.net.government, loss.net.bank] == decimals(f["net"])


# --- 10, 13. interest subsidy and runs -----------------------------------------------------------


def _subsidised_loan(f: Figures) -> tuple[Loan, list]:
    loan, people = _loan(f["loan"])
    rows = {row.seq: row for row in Installment.objects.filter(loan=loan)}
    for seq in (int(s) for s in f["paid_on_time"].split()):
        repayment_record(
            actor=people.bank,  # type: ignore[attr-defined]
            loan_id=loan.pk,
            amount=rows[seq].principal_due + rows[seq].interest_due,
            paid_on=rows[seq].due_on,
        )
    org = OrganizationFactory(kind="regulator", region_id="420100")
    return loan, [UserFactory(organization=org), UserFactory(organization=org)]


def _run(starter, period: str, capture: Callable):
    with capture(execute=True):
        run = subsidy_run_start(actor=starter, program_id=wuhan_program().pk, period=period)
    run.refresh_from_db()
    return run


@check("interest-subsidy", db=True)
def _interest_subsidy(f: Figures, capture: Callable) -> None:
    loan, (starter, _checker) = _subsidised_loan(f)
    run = _run(starter, f["period"], capture)
    got = {
        e.installment.seq: e.amount
        for e in SubsidyEntitlement.objects.filter(run=run, loan=loan, kind="interest").select_related(
            "installment"
        )
    }
    expected = {int(k.split()[1]): D(v) for k, v in f.items() if k.startswith("installment ")}
    assert got == expected
    assert run.interest_total == D(f["interest_total"])


@check("runs", db=True)
def _runs(f: Figures, capture: Callable) -> None:
    _, (starter, checker) = _subsidised_loan(examples()["interest-subsidy"])
    run = _run(starter, f["period"], capture)
    status, count, total = f["first_run"].split()
    assert (run.status, run.entitlements_count, run.interest_total + run.premium_total) == (
        status,
        int(count),
        D(total),
    )
    assert f["same_person_approval"] == "refused"
    with pytest.raises(SamePersonApproval):
        subsidy_run_approve(actor=starter, run_id=run.pk)
    assert subsidy_run_approve(actor=checker, run_id=run.pk).status == f["approved_by_other"]
    paid = subsidy_run_pay(
        actor=checker, run_id=run.pk, paid_on=date.fromisoformat(f["paid_on"]), reference="DOC-RUNS"
    )
    assert paid.status == f["status"]
    again = _run(starter, f["period"], capture)
    status, count, total = f["second_run"].split()
    assert (again.status, again.entitlements_count, again.interest_total + again.premium_total) == (
        status,
        int(count),
        D(total),
    )


# --- 11, 12. premium subsidy, cap ----------------------------------------------------------------


@check("premium-subsidy")
def _premium_subsidy(f: Figures) -> None:
    for premium, subsidy in f.items():
        assert premium_subsidy(D(premium), D("0.40")) == D(subsidy), premium


@check("annual-fees", db=True)
def _annual_fees(f: Figures, capture: Callable) -> None:
    from fintech.rules import fees
    from fintech.selectors.collateral import FeeTables

    tables = FeeTables()  # the table seeded by the migration
    for left, right in f.items():
        patent_type, filed, _year, year, *what = left.split()
        due = fees.fee_year_due_on(date.fromisoformat(filed), int(year))
        if what == ["due"]:
            assert due == date.fromisoformat(right), left
        elif what == ["grace", "ends"]:
            assert fees.grace_ends_on(due) == date.fromisoformat(right), left
        else:
            fee = tables.fee(patent_type, int(year), due)
            assert fee + fees.surcharge_amount(fee, due, date.fromisoformat(what[1])) == D(right), left


@check("annual-fee-table", db=True)
def _annual_fee_table(f: Figures, capture: Callable) -> None:
    from fintech.rules import fees
    from fintech.selectors.collateral import FeeTables

    tables = FeeTables()  # the table seeded by the migration, in force on 2025-01-01
    covered: dict[str, list[int]] = {}
    for left, right in f.items():
        patent_type, span = left.split()
        first, last = (int(x) for x in span.split("-"))
        for year in range(first, last + 1):
            assert tables.fee(patent_type, year, date(2025, 1, 1)) == D(right), (patent_type, year)
            covered.setdefault(patent_type, []).append(year)
    # every fee year of each term, once: invention 20, utility model 10, design 15 (filed from 2021-06-01)
    for patent_type, filed in (
        ("invention", date(2021, 6, 1)),
        ("utility_model", date(2021, 6, 1)),
        ("design", date(2021, 6, 1)),
    ):
        assert covered[patent_type] == list(range(1, fees.last_fee_year(patent_type, filed) + 1))


@check("cap")
def _cap(f: Figures) -> None:
    granted = apply_cap(decimals(f["computed"]), D(f["used"]), D("500000.00"))
    assert [amount for amount, _ in granted] == decimals(f["granted"])
    assert [("yes" if capped else "no") for _, capped in granted] == f["capped"].split()


# --- the page and the checks agree -----------------------------------------------------------------


# --- 15. payoff, prepayment, extension -----------------------------------------------------------


def _paid_loan(f: Figures):  # type: ignore[no-untyped-def]
    loan, people = _loan(f["loan"])
    for seq in f["paid_on_time"].split():
        row = Installment.objects.get(loan=loan, seq=int(seq))
        repayment_record(
            actor=people.bank,  # type: ignore[attr-defined]
            loan_id=loan.pk,
            amount=row.principal_due + row.interest_due,
            paid_on=row.due_on,
        )
    return loan, people


@check("payoff", db=True)
def _payoff(f: Figures, capture: Callable) -> None:
    loan, people = _paid_loan(f)
    key = next(k for k in f if k.startswith("payoff on "))
    on = date.fromisoformat(key.removeprefix("payoff on "))
    quote = payoff_quote(actor=people.bank, loan_id=loan.pk, on=on)  # type: ignore[attr-defined]
    words = f[key].split()
    assert [quote.overdue, quote.principal, quote.accrued_interest, quote.prepayment_fee, quote.total] == [
        D(words[i]) for i in (1, 3, 5, 7, 9)
    ]
    settled_on, _, a, _, interest_a, _, b, _, interest_b = f["settled"].split()
    loan_settle_early(actor=people.bank, loan_id=loan.pk, amount=quote.total, value_date=on)  # type: ignore[attr-defined]
    rows = dict(Installment.objects.filter(loan=loan).values_list("seq", "interest_due"))
    assert (rows[int(a)], rows[int(b)]) == (D(interest_a), D(interest_b))
    assert Loan.objects.get(pk=loan.pk).settled_on == date.fromisoformat(settled_on)


@check("prepayment", db=True)
def _prepayment(f: Figures, capture: Callable) -> None:
    for recast in ("keep_term", "shorten_term"):
        loan, people = _paid_loan(f)
        amount, _, on = f["prepaid"].split()
        loan_prepay_partial(
            actor=people.bank,  # type: ignore[attr-defined]
            loan_id=loan.pk,
            amount=D(amount),
            value_date=date.fromisoformat(on),
            recast=recast,
        )
        words = f[recast].split()
        rows = {r.seq: r for r in Installment.objects.filter(loan=loan)}
        assert len(rows) == int(words[1])
        first, last = rows[int(words[3])], rows[int(words[9])]
        assert (first.principal_due, first.interest_due) == (D(words[5]), D(words[7])), recast
        assert last.principal_due == D(words[11]), recast


@check("extension", db=True)
def _extension(f: Figures, capture: Callable) -> None:
    loan, people = _paid_loan(f)
    new, _, agreed, _, rate, _, paid = f["extension"].split()
    extension = loan_extension_request(
        actor=people.bank,  # type: ignore[attr-defined]
        loan_id=loan.pk,
        new_maturity_on=date.fromisoformat(new),
        agreed_on=date.fromisoformat(agreed),
    )
    extension = loan_extension_endorse(
        actor=people.insurer,  # type: ignore[attr-defined]
        extension_id=extension.pk,
        premium_rate=D(rate),
        endorsed_on=date.fromisoformat(agreed),
    )
    assert extension.premium == D(f["premium"])
    premium_payment_record(
        actor=people.insurer,  # type: ignore[attr-defined]
        policy_id=loan.policy_id,
        amount=D(f["premium"]),
        paid_on=date.fromisoformat(paid),
    )
    for key in ("installment 7", "installment 9"):
        due_on, _, principal, _, interest, extended = f[key].split()
        row = Installment.objects.get(loan=loan, seq=int(key.split()[1]))
        assert (row.due_on, row.principal_due, row.interest_due, row.after_extension) == (
            date.fromisoformat(due_on),
            D(principal),
            D(interest),
            extended == "extended",
        )


def test_every_example_is_checked():
    # given the examples of the page and the checks of this module
    # then each example has a check and each check an example
    assert sorted(examples()) == sorted(CHECKS)


@pytest.mark.parametrize(
    "example_id",
    [pytest.param(i, marks=[pytest.mark.django_db] if i in NEEDS_DB else []) for i in sorted(examples())],
)
def test_worked_example(example_id, request):
    # given the figures of one worked example of docs/rules.md
    figures = examples()[example_id]
    # when the code applies the rule to its inputs, then it finds every figure of the page
    if example_id in NEEDS_DB:
        CHECKS[example_id](figures, request.getfixturevalue("django_capture_on_commit_callbacks"))
    else:
        CHECKS[example_id](figures)
