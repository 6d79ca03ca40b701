"""The action forms parse money to the fen and rates as plain Decimals; they refuse the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fintech.admin.forms import LoanApproveForm, PolicyIssueForm, PremiumPaymentForm

D = Decimal
APPROVAL = {
    "principal": "300000.00",
    "annual_rate": "0.0435",
    "term_months": "12",
    "repayment_method": "equal_principal",
}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("300000", D("300000.00")), (" 300000.5 ", D("300000.50")), ("0.01", D("0.01"))],
)
def test_money_is_parsed_to_the_fen(raw, parsed):
    form = LoanApproveForm({**APPROVAL, "principal": raw})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["principal"] == parsed
    assert type(form.cleaned_data["principal"]) is Decimal


@pytest.mark.parametrize(
    "raw", ["3e5", "1E+5", "-100.00", "100.001", "1,000.00", "NaN", "Infinity", "0x10", "1" * 40]
)
def test_malformed_money_is_refused(raw):
    form = LoanApproveForm({**APPROVAL, "principal": raw})

    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()["principal"]] == ["invalid_money"]


@pytest.mark.parametrize(
    ("raw", "parsed"), [("0.0435", D("0.0435")), ("0.12345678", D("0.12345678")), ("0", D("0"))]
)
def test_rates_are_plain_decimal_fractions(raw, parsed):
    form = LoanApproveForm({**APPROVAL, "annual_rate": raw})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["annual_rate"] == parsed


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("4.35e-2", "invalid_rate"),
        ("0.123456789", "invalid_rate"),
        ("-0.01", "invalid_rate"),
        ("NaN", "invalid_rate"),
        ("4.35", "rate_not_fraction"),
        ("1", "rate_not_fraction"),
    ],
)
def test_malformed_rates_are_refused(raw, code):
    form = LoanApproveForm({**APPROVAL, "annual_rate": raw})

    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()["annual_rate"]] == [code]


def test_insured_amount_is_optional_and_the_premium_rate_is_not():
    optional = PolicyIssueForm({"premium_rate": "0.015", "insured_amount": ""})
    assert optional.is_valid()
    assert optional.cleaned_data == {"premium_rate": D("0.015"), "insured_amount": None}
    form = PolicyIssueForm({"premium_rate": "", "insured_amount": "1000.00"})
    assert not form.is_valid()
    assert list(form.errors) == ["premium_rate"]


def test_business_dates_are_iso_dates():
    assert PremiumPaymentForm({"amount": "4500.00", "paid_on": "2025-03-01"}).is_valid()
    form = PremiumPaymentForm({"amount": "4500.00", "paid_on": "01/03/2025"})
    assert not form.is_valid()
    assert list(form.errors) == ["paid_on"]
