"""Request-level guards that must answer before any view or parser runs."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _


def _too_large() -> JsonResponse:
    return JsonResponse(
        {
            "code": "request_too_large",
            "message": f"The request body is over {settings.MAX_REQUEST_BODY_BYTES} bytes.",
        },
        status=413,
    )


class BodySizeLimitMiddleware:
    """Answer a body over MAX_REQUEST_BODY_BYTES with 413 in the API's error shape.

    Checked on Content-Length before anything reads the body, so nothing is parsed or written.
    Bodies without a Content-Length are still bounded by DATA_UPLOAD_MAX_MEMORY_SIZE, whose
    RequestDataTooBig the API's exception handler also maps to 413.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return _too_large()
        return self.get_response(request)


class AuditRequestMiddleware:
    """Make the request that causes a change available to the audit log (services.audit).

    Only writes are kept (POST, PUT, PATCH, DELETE); secrets are dropped before anything is stored.
    """

    WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in self.WRITES:
            return self.get_response(request)
        from fintech.services.audit import current_request, request_summary

        content_type = request.content_type or ""
        try:
            request.body  # noqa: B018  (bounded by DATA_UPLOAD_MAX_MEMORY_SIZE, chunked bodies too)
        except RequestDataTooBig:
            return _too_large()
        if content_type.startswith("multipart/") or content_type == "application/x-www-form-urlencoded":
            # The raw body was read (and cached) first: the form is parsed from a copy, and the
            # view's own parser still finds the stream intact (and can answer 415 if it wants JSON).
            summary = request_summary(
                request.method, request.path, content_type, b"", request.FILES, dict(request.POST.lists())
            )
        else:
            summary = request_summary(request.method, request.path, content_type, request.body)
        token = current_request.set(summary)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or, behind DJANGO_NUM_PROXIES proxies, the address the
    outermost trusted proxy saw (X-Forwarded-For is trusted only that far)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.NUM_PROXIES
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    return addresses[-min(proxies, len(addresses))] if addresses else remote


def account_locked_response(
    request: HttpRequest, credentials: object = None, *args: object, **kwargs: object
) -> JsonResponse:
    """django-axes' answer for a locked account, in the API's error shape (423 Locked)."""
    response = JsonResponse(account_locked_body(), status=423)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


def account_locked_body() -> dict[str, str]:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return {
        "code": "account_locked",
        "message": _(
            "Too many failed sign-ins for this account: it is locked for %(minutes)s minutes "
            "or until an administrator releases it."
        )
        % {"minutes": minutes},
    }
