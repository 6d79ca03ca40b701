"""A real HTTP receiver for the webhook tests: a ThreadingHTTPServer on the loopback that records
every POST and answers 2xx, 500 or nothing in time, as a test's `plan` says."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answer: int  # 200 accepted, 500 refused, 0 answered too late (the sender gave up)

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.answer == 200 and (path is None or r.path == path)]


@contextmanager
def receiver(
    plan: Callable[[int], str] = lambda n: "ok", stall: float = 0.5, delay: float = 0.0
) -> Iterator[Receiver]:
    """`plan(n)` for the n-th request (0-based): "ok", "fail" (500) or "stall" (sleeps `stall`
    seconds, longer than the sender's timeout, then 500); every answer takes `delay` seconds."""
    box: dict[str, Receiver] = {}
    counter = iter(range(10**9))
    counter_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with counter_lock:
                n = next(counter)
            what = plan(n)
            if delay:
                time.sleep(delay)
            if what == "stall":
                time.sleep(stall)
            code = 200 if what == "ok" else 500
            rec = box["r"]
            with rec.lock:
                rec.received.append(
                    Received(
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                        code if what != "stall" else 0,
                    )
                )
            try:
                self.send_response(code)
                self.send_header("content-length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender gave up on a stalled answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
