"""Requests at once: the races the row locks and the database constraints must settle (PostgreSQL;
SQLite serialises writers)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection


def at_once(jobs: Sequence[Callable[[], Any]], *, timeout: float = 180) -> list[Any]:
    """Run the jobs in threads released together by a barrier, each on its own connection (closed
    after); a job's result, or the exception it raised, at its index."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = jobs[i]()
        except Exception as exc:  # reported by the test's assertions, not lost in the thread
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads)
    return results


def race(work: Callable[[int], Any], n: int) -> list[Any]:
    """work(0), ..., work(n - 1) at once (at_once)."""
    return at_once([lambda i=i: work(i) for i in range(n)], timeout=120)
