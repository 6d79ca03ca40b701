"""Request-level guards that must answer before any view or parser runs."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


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
            return JsonResponse(
                {
                    "code": "request_too_large",
                    "message": f"The request body is over {settings.MAX_REQUEST_BODY_BYTES} bytes.",
                },
                status=413,
            )
        return self.get_response(request)
