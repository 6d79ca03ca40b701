"""Valuation reports: the appraisal firm reports, the valuation app computes, the application
moves on to underwriting (or is declined when the grade is not eligible). DOMAIN.md section 6."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fintech.access import require_acts_for
from fintech.errors import AlreadyRegistered, InvalidInput, InvalidTransition
from fintech.models import (
    ApplicationStatus,
    OrganizationKind,
    PatentValuation,
    User,
    Valuation,
    ValuationStatus,
)
from fintech.money import format_money
from fintech.rules.schedules import add_months
from valuation import public as val

from .audit import audit_record
from .common import ensure_not_future
from .notifications import notify_on_commit
from .transitions import application_lock, application_transition

# The money columns hold 18 digits, 2 after the point.
MAX_MONEY = Decimal("9999999999999999.99")


@dataclass(frozen=True)
class PatentReport:
    patent: int
    method: str
    inputs: val.MethodInputs
    indicators: val.PatentIndicators
    sub_indicators: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def method_inputs(method: str, data: dict[str, Any]) -> val.MethodInputs:
    """Build the valuation app's inputs for one method from parsed API data."""
    if method == val.RELIEF_FROM_ROYALTY:
        return val.RoyaltyInputs(
            revenue_forecast=tuple(data["revenue_forecast"]),
            royalty_rate=data["royalty_rate"],
            tax_rate=data["tax_rate"],
            discount_rate=data["discount_rate"],
        )
    if method == val.MARKET:
        return val.MarketInputs(comparables=tuple(val.Comparable(**c) for c in data["comparables"]))
    return val.CostInputs(
        replacement_cost=data["replacement_cost"],
        functional_obsolescence_rate=data["functional_obsolescence_rate"],
        economic_obsolescence_rate=data["economic_obsolescence_rate"],
        economic_life_years=data["economic_life_years"],
        remaining_economic_life_years=data["remaining_economic_life_years"],
    )


@transaction.atomic
def valuation_report(
    *,
    actor: User,
    valuation_id: int,
    report_number: str,
    valuation_date: date,
    patents: list[PatentReport],
    operating: Decimal,
    economic_benefit: Decimal,
) -> Valuation:
    """Record the appraisal firm's report, signed by the caller, and advance the application."""
    require_acts_for(
        actor, OrganizationKind.APPRAISER, None, _("Only the appraisal firm reports a valuation.")
    )
    engagement = Valuation.objects.select_related("application").get(pk=valuation_id)
    app = application_lock(engagement.application_id)
    engagement = Valuation.objects.select_for_update().get(pk=valuation_id)
    require_acts_for(actor, OrganizationKind.APPRAISER, engagement, _("This engagement is another firm's."))
    if engagement.status != ValuationStatus.PENDING or app.status != ApplicationStatus.VALUATION:
        raise InvalidTransition.of(app, "report a valuation")
    ensure_not_future(valuation_date, "valuation_date")
    expected = set(app.patents.values_list("pk", flat=True))
    sent = [p.patent for p in patents]
    if len(set(sent)) != len(sent) or set(sent) != expected:
        raise InvalidInput.on(
            "patents",
            _("Report exactly the application's patents: %(patents)s.") % {"patents": sorted(expected)},
        )
    if Valuation.objects.filter(appraiser_id=engagement.appraiser_id, report_number=report_number).exists():
        raise AlreadyRegistered(
            _("Report number %(report_number)s is already used by your firm.")
            % {"report_number": report_number},
            fields={"report_number": [_("Already used.")]},
        )
    expiry = dict(app.patents.values_list("pk", "expires_on"))
    program = app.program
    request = val.AppraisalRequest(
        valuation_date=valuation_date,
        patents=tuple(
            val.PatentInput(
                patent=p.patent,
                expiry_date=expiry[p.patent],
                method=p.method,
                inputs=p.inputs,
                indicators=p.indicators,
                sub_indicators=p.sub_indicators,
            )
            for p in patents
        ),
        enterprise=val.EnterpriseScores(operating=operating, economic_benefit=economic_benefit),
        pledge_rates=program.pledge_rate_table(),
        loan_cap=program.loan_cap,
    )
    try:
        result = val.appraise(request)
    except val.ValuationInputError as exc:
        raise InvalidInput(
            _("%(field)s: %(message)s") % {"field": exc.field, "message": exc.message}, fields=exc.as_fields()
        ) from exc
    if result.appraised_value > MAX_MONEY:
        raise InvalidInput.on(
            "patents",
            _("The appraised value %(appraised_value)s is beyond any loan.")
            % {"appraised_value": format_money(result.appraised_value, grouped=True)},
        )
    engagement.status = ValuationStatus.REPORTED
    engagement.report_number = report_number
    engagement.valuation_date = valuation_date
    engagement.valid_until = add_months(valuation_date, program.valuation_validity_months)
    engagement.appraised_value = result.appraised_value
    engagement.composite_score = result.composite_score
    engagement.risk_grade = result.risk_grade
    engagement.pledge_rate = result.pledge_rate
    engagement.credit_ceiling = result.credit_ceiling
    engagement.scorecard_version = result.scorecard_version
    engagement.enterprise_scores = {"operating": str(operating), "economic_benefit": str(economic_benefit)}
    engagement.signed_by = actor
    engagement.reported_at = timezone.now()
    try:
        with transaction.atomic():
            engagement.save()
    except IntegrityError as exc:  # a concurrent report took the number
        raise AlreadyRegistered(
            _("Report number %(report_number)s is already used by your firm.")
            % {"report_number": report_number}
        ) from exc
    by_patent = {p.patent: p for p in patents}
    PatentValuation.objects.bulk_create(
        PatentValuation(
            valuation=engagement,
            patent_id=line.patent,
            method=line.method,
            value=line.value,
            inputs=by_patent[line.patent].raw,
            indicators={
                "legal": str(line.legal),
                "technical": str(line.technical),
                "economic": str(line.economic),
            },
        )
        for line in result.patents
    )
    app.appraised_value = result.appraised_value
    app.risk_grade = result.risk_grade
    app.pledge_rate = result.pledge_rate
    app.credit_ceiling = result.credit_ceiling
    audit_record(
        actor=actor,
        action="valuation.report",
        obj=engagement,
        from_state=ValuationStatus.PENDING,
        to_state=ValuationStatus.REPORTED,
        amount=result.appraised_value,
        payload={"report_number": report_number, "risk_grade": result.risk_grade},
    )
    if result.eligible:
        application_transition(app, "valuation_reported", actor=actor)
        notify_on_commit(app, app.insurer, "underwriting")
    else:
        app.decline_reason = f"Risk grade {result.risk_grade} is not eligible for a pledge loan."
        application_transition(app, "decline", actor=actor, reason=app.decline_reason)
        notify_on_commit(app, app.sme, "declined")
    return engagement
