"""The `Idempotency-Key` header for POSTs that move money or state (API.md "Conventions").

The key row is inserted in the same transaction as the work, so the first request's effects and
its stored response commit together. A concurrent request with the same key waits on the unique
index until the first commits, then replays its response; a key reused for a different request is
a 409. Errors in the request's input are stored and replayed too: the answer to a key never changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import encoders

from config.api import exception_handler
from fintech.errors import IdempotencyKeyReused, InvalidInput
from fintech.models import User
from fintech.models.idempotency import IdempotencyKey

HEADER = "Idempotency-Key"


def _stored_body(data: Any) -> Any:
    """The response body as JSON text: PostgreSQL's jsonb does not keep the order of an object's
    keys, and a replay must answer with the very same bytes as the first response."""
    return json.dumps(data, cls=encoders.JSONEncoder, ensure_ascii=False)


def _replay(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    body = record.response_body
    # Bodies are objects or arrays, so a string is the JSON text stored by _stored_body.
    data = json.loads(body) if isinstance(body, str) else body
    response = Response(data, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def _fingerprint(request: Request) -> str:
    """What makes two requests "the same": method, path and content. A multipart body is reduced to
    its fields and files, since clients pick a new boundary on every retry."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    django_request = request._request
    if (django_request.content_type or "").startswith("multipart/"):
        for name, values in sorted(django_request.POST.lists()):
            digest.update(f"field {name}={values!r}\n".encode())
        for name in sorted(django_request.FILES):
            for upload in django_request.FILES.getlist(name):
                digest.update(f"file {name} {upload.name}\n".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(django_request.body)  # read (and cached) before DRF parses it
    return digest.hexdigest()


def idempotent(view_method: Callable[..., Response]) -> Callable[..., Response]:
    @wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 200:
            raise InvalidInput.on(HEADER, _("An Idempotency-Key has at most 200 characters."))
        user = cast(User, request.user)  # the views are authenticated (IsAuthenticated)
        fingerprint = _fingerprint(request)
        for _attempt in range(2):
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
            if existing is not None:
                return _replay(existing, fingerprint)
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        user=user,
                        key=key,
                        method=str(request.method),
                        path=request.path[:300],
                        fingerprint=fingerprint,
                        status_code=0,
                    )
                    try:
                        with transaction.atomic():
                            response = view_method(self, request, *args, **kwargs)
                    except Exception as exc:
                        response = exception_handler(exc, {"view": self, "request": request})
                        if response.status_code >= 500:
                            raise
                    record.status_code = response.status_code
                    record.response_body = _stored_body(response.data)
                    record.save(update_fields=["status_code", "response_body"])
                return response
            except IntegrityError:
                continue  # a concurrent request with this key committed first: replay it
        existing = IdempotencyKey.objects.get(user=user, key=key)
        return _replay(existing, fingerprint)

    return wrapper
