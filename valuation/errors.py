"""The one exception valuation raises for bad input (a float or other wrong type is a TypeError)."""

from __future__ import annotations


class ValuationInputError(ValueError):
    """An input broke a valuation rule; ``field`` is the dotted path of the offending input.

    From :func:`valuation.public.appraise` the path is rooted at the request, in the shape of the
    API body: ``patents.0.revenue_forecast``, ``patents.1.indicators.legal``,
    ``enterprise.operating``, ``pledge_rates.B``. From the single-method helpers it is relative
    to their inputs (``revenue_forecast.2``, ``comparables.0.price``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def under(self, prefix: str) -> ValuationInputError:
        """The same error with its field nested under ``prefix`` (e.g. ``patents.0``)."""
        return ValuationInputError(f"{prefix}.{self.field}", self.message)

    def as_fields(self) -> dict[str, list[str]]:
        """The error in the API's ``fields`` shape: ``{"patents.0.tax_rate": ["..."]}``."""
        return {self.field: [self.message]}
