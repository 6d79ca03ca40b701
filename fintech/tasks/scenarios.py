"""Celery task: compute a scenario (thin: an id in, the service does the work; STYLE.md rule 7)."""

from __future__ import annotations

from celery import shared_task

from fintech.services import scenarios

__all__ = ["scenario_compute_task"]


@shared_task(name="fintech.scenario_compute")
def scenario_compute_task(scenario_id: int) -> None:
    """Compute one scenario (reloaded by id; one that is no longer pending is skipped, so a
    redelivered message changes nothing). Progress and the result are written on the row."""
    scenarios.scenario_compute(scenario_id)
