"""gunicorn's settings for this service (gunicorn reads ./gunicorn.conf.py by itself).

Request headers: a field up to 16 KB reaches Django, so an over-long `Idempotency-Key` (or any
other header Django validates) gets the API's error shape instead of gunicorn's own page. What
gunicorn still refuses before Django (a header over 16 KB, more than 100 headers, a request line
over 8 KB, a malformed request) is answered in the API's JSON error shape too, not as HTML.
"""

from __future__ import annotations

import json
import os
from typing import Any

from gunicorn import util

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384
# gunicorn never turns X-Forwarded-Proto into the request's scheme: Django trusts proxy headers only
# when DJANGO_NUM_PROXIES says how many proxies stand in front (config/settings.py).
secure_scheme_headers: dict[str, str] = {}

_CODES = {400: "bad_request", 403: "permission_denied", 414: "request_too_large", 431: "request_too_large"}


def _write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error, answering {"code", "message"} (API.md) instead of an HTML page."""
    code = _CODES.get(status_int, "bad_request" if status_int < 500 else "server_error")
    body = json.dumps({"code": code, "message": f"{reason}: {mesg}" if mesg else reason}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin1")
    util.write_nonblock(sock, head + body)


util.write_error = _write_json_error
