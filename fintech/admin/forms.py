"""Forms of the review actions in the admin. They only parse input (money to the fen, rates as
plain Decimals, business dates); every rule is checked by the service the action calls."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fintech.models import Recast, RepaymentMethod
from fintech.money import InvalidMoney, parse_money

# Rates are fractions in plain notation (0.0435), at most eight places like the rate columns.
_PLAIN_RATE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,8})?$")


class _PlainDecimalField(forms.Field):
    """A decimal typed as text and parsed strictly (forms.DecimalField would accept 1E+5)."""

    max_input_length = 32

    def __init__(self, *, placeholder: str, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"inputmode": "decimal", "placeholder": placeholder, "maxlength": self.max_input_length}
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        if len(text) > self.max_input_length:
            raise self.invalid()
        return self.parse(text)

    def invalid(self) -> forms.ValidationError:
        raise NotImplementedError

    def parse(self, text: str) -> Decimal:
        raise NotImplementedError


class MoneyField(_PlainDecimalField):
    """CNY to the fen, parsed by fintech.money.parse_money: plain notation, at most 2 places."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="1000000.00", **kwargs)

    def invalid(self) -> forms.ValidationError:
        return forms.ValidationError(
            _(
                "Enter a non-negative amount in plain notation with at most 2 decimal places, "
                "e.g. 1000000.00."
            ),
            code="invalid_money",
        )

    def parse(self, text: str) -> Decimal:
        try:
            return parse_money(text)
        except InvalidMoney as exc:
            raise self.invalid() from exc


class RateField(_PlainDecimalField):
    """A yearly rate as a fraction (0.0435 for 4.35 %), plain notation, at most 8 places."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="0.0435", **kwargs)

    def invalid(self) -> forms.ValidationError:
        return forms.ValidationError(
            _("Enter the rate as a decimal fraction in plain notation with at most 8 places, e.g. 0.0435."),
            code="invalid_rate",
        )

    def parse(self, text: str) -> Decimal:
        if not _PLAIN_RATE.match(text):
            raise self.invalid()
        try:
            rate = Decimal(text)
        except InvalidOperation as exc:  # the pattern admits only plain decimals; kept as a guard
            raise self.invalid() from exc
        if rate >= 1:
            # 1.5 is almost always "1.5 %" typed as a percentage: say so rather than let it through.
            raise forms.ValidationError(
                _("Enter the rate as a fraction below 1 (0.015 for 1.5 percent)."), code="rate_not_fraction"
            )
        return rate


class BusinessDateField(forms.DateField):
    """An event date as the bank or insurer reports it (past dates are normal; YYYY-MM-DD)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(**kwargs)


class ReasonField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("reason"))
        kwargs.setdefault("max_length", 2000)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "cols": 60}))
        super().__init__(**kwargs)


class PolicyIssueForm(forms.Form):
    premium_rate = RateField(
        label=_("annual premium rate"),
        help_text=_("A fraction within the programme's band, e.g. 0.015 for 1.5 percent a year."),
    )
    insured_amount = MoneyField(
        label=_("insured amount"),
        required=False,
        help_text=_("Leave empty to insure the requested amount, capped at the credit ceiling."),
    )


class PremiumPaymentForm(forms.Form):
    amount = MoneyField(label=_("amount"))
    paid_on = BusinessDateField(label=_("paid on"))


class DeclineForm(forms.Form):
    reason = ReasonField(help_text=_("Shown to the SME and kept in the audit trail."))


class LoanApproveForm(forms.Form):
    principal = MoneyField(label=_("principal"))
    annual_rate = RateField(
        label=_("annual rate"), help_text=_("A fraction, e.g. 0.0435 for 4.35 percent a year.")
    )
    term_months = forms.IntegerField(label=_("term (months)"), min_value=1, max_value=600)
    repayment_method = forms.ChoiceField(label=_("repayment method"), choices=RepaymentMethod.choices)


class PledgeRegisterForm(forms.Form):
    registration_number = forms.CharField(
        label=_("registration number"), max_length=64, help_text=_("As issued by CNIPA.")
    )
    registered_on = BusinessDateField(label=_("registered on"))


class DisburseForm(forms.Form):
    disbursed_on = BusinessDateField(label=_("disbursed on"))


class PayoffQuoteForm(forms.Form):
    on = forms.DateField(
        label=_("payoff on"), help_text=_("Any day from the last repayment to before maturity.")
    )


class SettleEarlyForm(forms.Form):
    amount = MoneyField(label=_("amount"), help_text=_("Exactly the payoff of the value date."))
    value_date = BusinessDateField(label=_("value date"))


class PartialPrepaymentForm(forms.Form):
    amount = MoneyField(label=_("principal prepaid"))
    value_date = BusinessDateField(label=_("value date"))
    recast = forms.ChoiceField(label=_("recast"), choices=Recast.choices)


class ExtensionRequestForm(forms.Form):
    new_maturity_on = forms.DateField(label=_("new maturity"))
    agreed_on = BusinessDateField(label=_("agreed on"))


class ExtensionEndorseForm(forms.Form):
    premium_rate = RateField(label=_("premium rate"), help_text=_("A fraction a year, e.g. 0.02."))
    endorsed_on = BusinessDateField(label=_("endorsed on"))
