"""Admin: the collateral watches, read-only, for regulators and platform staff only."""

from __future__ import annotations

from datetime import date

from fintech.models import OrganizationKind, WatchRun
from tests.factories import OrganizationFactory

from .conftest import staff


def test_a_regulator_reads_a_watch_run_and_its_progress_and_cannot_change_it(cast, login):
    regulator = staff(OrganizationFactory(kind=OrganizationKind.REGULATOR, name="Wuhan IPO 武汉知识产权局"))
    run = WatchRun.objects.create(
        as_of=date(2025, 6, 2), status="running", chunks_total=3, chunks_done=1, chunks_requeued=1
    )
    client = login(regulator)

    page = client.get("/admin/fintech/watchrun/").content.decode()
    assert "1/3, 1 queued again" in page
    assert client.get(f"/admin/fintech/watchrun/{run.pk}/change/").status_code == 200
    # read-only: no add, no change, no delete
    assert client.get("/admin/fintech/watchrun/add/").status_code == 403
    client.post(f"/admin/fintech/watchrun/{run.pk}/change/", {"as_of": "2025-06-03", "status": "done"})
    run.refresh_from_db()
    assert (run.as_of, run.status) == (date(2025, 6, 2), "running")
    assert client.post(f"/admin/fintech/watchrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
    assert WatchRun.objects.filter(pk=run.pk).exists()


def test_a_bank_does_not_see_the_watch_runs(cast, login):
    WatchRun.objects.create(as_of=date(2025, 6, 2))
    assert login(cast.bank_user).get("/admin/fintech/watchrun/").status_code == 403
