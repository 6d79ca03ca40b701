"""API plumbing shared by every endpoint: the one error shape, pagination."""

from __future__ import annotations

import codecs
import json
import logging
import math
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.exceptions import ParseError
from rest_framework.metadata import SimpleMetadata
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from fintech.errors import DomainError

logger = logging.getLogger(__name__)


# No request body of the API nests deeper than a few levels; deeper bodies are refused before any
# recursive code (validation, error flattening, the audit's sanitiser) walks them.
MAX_JSON_DEPTH = 32


def json_depth(value: Any) -> int:
    """How deep arrays and objects nest in a parsed JSON value (a scalar is 0); iterative."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


class DecimalJSONParser(JSONParser):
    """JSON numbers become Decimal, so a float never touches money (STYLE.md rule 6)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(text, parse_float=_plain_decimal, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise ParseError(
                _("JSON parse error - %(reason)s at line %(line)s, column %(column)s.")
                % {"reason": _json_reason(exc.msg), "line": exc.lineno, "column": exc.colno}
            ) from exc
        except UnicodeDecodeError as exc:
            raise ParseError(
                _("JSON parse error - the body is not %(encoding)s text.") % {"encoding": encoding}
            ) from exc
        except ValueError as exc:  # NaN, Infinity (_refuse_constant)
            raise ParseError(
                _("JSON parse error - %(name)s is not a number.") % {"name": exc.args[0]}
            ) from exc
        except RecursionError as exc:
            raise ParseError(
                _("JSON parse error - nested deeper than %(levels)s levels") % {"levels": MAX_JSON_DEPTH}
            ) from exc
        if json_depth(data) > MAX_JSON_DEPTH:
            raise ParseError(
                _("JSON parse error - nested deeper than %(levels)s levels") % {"levels": MAX_JSON_DEPTH}
            )
        return data


def _json_reason(msg: str) -> str:
    """The json module's reason for refusing a body, in the active language (the common ones;
    any other is said generically rather than mixed into a Chinese message in English)."""
    reasons = {
        "Expecting value": _("a value is expected"),
        "Expecting property name enclosed in double quotes": _(
            "a property name in double quotes is expected"
        ),
        "Expecting ',' delimiter": _("a comma is expected"),
        "Expecting ':' delimiter": _("a colon is expected"),
        "Extra data": _("there is more after the value"),
        "Unterminated string starting at": _("a string is not closed"),
        "Invalid control character at": _("a string holds a control character"),
        "Invalid \\escape": _("a string holds an invalid escape"),
    }
    return str(reasons.get(msg, _("the body is not valid JSON")))


def _plain_decimal(text: str) -> Decimal | str:
    """A JSON number with a fraction, as a Decimal. One in exponent notation stays its text, so
    the field refuses it by name (API.md: money and rates in plain notation): as a Decimal,
    1E-2 would print as a plain "0.01" and pass."""
    if "e" in text or "E" in text:
        return text
    return Decimal(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


class Metadata(SimpleMetadata):
    """OPTIONS answers the view's name, description and media types. The fields of each action are
    described by the OpenAPI schema (/api/schema/); building them here would instantiate every
    view's serializer for any caller, which some views (multipart uploads) cannot do generically."""

    def determine_actions(self, request: Any, view: Any) -> dict[str, Any]:
        return {}


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"dotted.path": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item in ({}, []):
                    continue
                out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Every error of the API in one shape: {"code", "message", "fields"?}."""
    if isinstance(exc, DomainError):
        return Response(
            {**error_body(exc.code, str(exc.message), exc.fields), **exc.extra}, status=exc.status_code
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()), ("", [gettext("Invalid input.")]))
        message = f"{first[0]}: {first[1][0]}" if first[0] and first[0] != "non_field_errors" else first[1][0]
        return Response(error_body("invalid", message, fields), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", gettext("Not found.")), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("permission_denied", gettext("You may not do this.")), status=403)
    if isinstance(exc, DjangoValidationError):
        fields = (
            {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {}
        )
        return Response(error_body("invalid", "; ".join(exc.messages), fields), status=400)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("request_too_large", gettext("The request body is too large.")), status=413
        )
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        if isinstance(detail, dict):  # simplejwt's InvalidToken carries {"detail", "code", "messages"}
            message = str(detail.get("detail", exc.default_detail))
            code = str(detail.get("code", exc.default_code))
        else:
            message = str(detail)
            code = getattr(detail, "code", None) or exc.default_code
        headers: dict[str, str] = {}
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            # Rounded up: a client that waits the whole figure is not refused again.
            headers["Retry-After"] = str(math.ceil(wait))
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        return Response(error_body(str(code), message), status=exc.status_code, headers=headers)
    if isinstance(exc, DatabaseOperationalError | DatabaseInterfaceError):
        # The database went away mid request (a restart, a failover, a killed connection): the
        # transaction was rolled back by the server, so nothing was half written. Say so plainly.
        logger.error("database unavailable: %s", exc)
        return Response(
            error_body(
                "service_unavailable", gettext("The database is unavailable; nothing was saved. Try again.")
            ),
            status=503,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, IntegrityError):
        # A database constraint refused the write: a concurrent change won (the services check
        # the same rules first and give friendlier errors; this is the last line).
        logger.warning("integrity error answered with 409: %s", exc)
        return Response(
            error_body("conflict", gettext("A concurrent change won; reload and try again.")), status=409
        )
    logger.exception("unhandled API error", exc_info=exc)
    return Response(error_body("server_error", gettext("Internal error.")), status=500)


def json_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    page = _admin_page(
        request, 404, gettext("Not found"), gettext("There is no such page, or it is not yours to see.")
    )
    return page or JsonResponse(error_body("not_found", gettext("Not found.")), status=404)


def json_500(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("server_error", gettext("Internal error.")), status=500)


def json_400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", gettext("Bad request.")), status=400)


def _admin_page(request: HttpRequest, status_code: int, title: str, message: str) -> HttpResponse | None:
    """Inside the admin, an error is an admin page (with its menus and a way back), not JSON."""
    from django.contrib import admin  # the admin site is set up once the apps are loaded

    index = reverse("admin:index")
    if not request.path.startswith(index):
        return None
    user = getattr(request, "user", None)
    context = {"title": title, "message": message, "is_nav_sidebar_enabled": False}
    if user is not None and user.is_active and user.is_staff:
        context = {**admin.site.each_context(request), **context, "is_nav_sidebar_enabled": False}
    else:
        context = {**context, "site_header": admin.site.site_header, "site_url": admin.site.site_url}
    return TemplateResponse(request, "admin/fintech/error.html", context, status=status_code).render()


def json_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    page = _admin_page(
        request,
        403,
        gettext("Not allowed"),
        gettext("Your organisation may not open this page or take this action."),
    )
    return page or JsonResponse(error_body("permission_denied", gettext("You may not do this.")), status=403)
