"""The one admin action framework: a button on a record's page (or a list's page) that opens a small
form and, on POST, calls a service with the user as actor; and the "Add" page of a screen whose
records only a service creates (the subsidy run's start, the repayment file's upload).

An `AdminAction` says who may press it (`may`), when it is offered (`offered`), its form (and the
form's initial data and arguments), the service call (`run`, returning the success message, or a
`Done` naming the record to show next). The buttons and checks only decide what to show: the
service checks every rule again under a row lock, and a broken rule comes back as an error message
on the record's page with nothing changed (on an "Add" page, as errors of its form).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext

from fintech.errors import DomainError

# The one form page of every admin action, and the change form / change list showing the buttons.
ACTION_TEMPLATE = "admin/fintech/action_form.html"
BUTTONS_TEMPLATE = "admin/fintech/change_form_actions.html"


def _always(user: Any, obj: Any) -> bool:
    return True


def _nothing(user: Any, obj: Any) -> dict[str, Any]:
    return {}


def _no_intro(user: Any, obj: Any) -> str:
    return ""


@dataclass(frozen=True)
class Done:
    """A service call's answer when the page to show next is another record's (a new one)."""

    message: str
    record: Any


@dataclass(frozen=True)
class AdminAction:
    """One button. `obj` is the record of the page (None for an action of the list page or an
    "Add" page)."""

    key: str
    label: Any
    form_class: type[forms.Form]
    may: Callable[[Any, Any], bool]  # who may press it, on this record
    # the service call; returns the success message (or a Done naming the record to show next)
    run: Callable[[Any, Any, dict[str, Any]], str | Done]
    offered: Callable[[Any, Any], bool] = _always  # when it is offered (the record's state)
    initial: Callable[[Any, Any], dict[str, Any]] = _nothing
    form_kwargs: Callable[[Any, Any], dict[str, Any]] = _nothing  # e.g. the choices the user sees
    intro: Callable[[Any, Any], str] = _no_intro  # a paragraph above the form (HTML-safe)
    submit_label: Any = None  # the form's button, when it is not the label
    # a second button that computes without saving: returns the facts shown above the form again
    preview: Callable[[Any, Any, dict[str, Any]], list[tuple[Any, Any]]] | None = None
    preview_label: Any = None
    danger: bool = False

    def form(self, request: HttpRequest, obj: Any) -> forms.Form:
        kwargs = self.form_kwargs(request.user, obj)
        if request.method == "POST":
            return self.form_class(request.POST, request.FILES, **kwargs)
        return self.form_class(initial=self.initial(request.user, obj), **kwargs)


@dataclass(frozen=True)
class Buttons:
    """The actions of a record's page (`record`), of the list's page (`listing`), and the screen's
    "Add" page (`add`: a service creates the record, there is no model form)."""

    record: tuple[AdminAction, ...] = ()
    listing: tuple[AdminAction, ...] = ()
    add: AdminAction | None = None


class ActionsMixin:
    """Serves a ModelAdmin's record actions under `<object_id>/<action_path>/<key>/`, named
    `<app>_<model>_<action_name>`, and each list action under `<key>/`, named `<app>_<model>_<key>`."""

    admin_actions: Buttons = Buttons()
    action_path = "action"
    action_name = "action"
    change_form_template: ClassVar[Any] = BUTTONS_TEMPLATE

    # what the hosting ModelAdmin provides
    admin_site: Any
    opts: Any

    def action_summary(self, obj: Any) -> list[tuple[Any, Any]]:
        """Facts shown above the action's form."""
        return []

    def _url_name(self, listing_key: str = "") -> str:
        kind = listing_key.replace("-", "_") if listing_key else self.action_name
        return f"{self.opts.app_label}_{self.opts.model_name}_{kind}"

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                f"<path:object_id>/{self.action_path}/<slug:action>/",
                self.admin_site.admin_view(self.record_action_view),
                name=self._url_name(),
            )
        ]
        own += [
            path(
                f"{action.key}/",
                self.admin_site.admin_view(self.list_action_view),
                {"action": action.key},
                name=self._url_name(action.key),
            )
            for action in self.admin_actions.listing
        ]
        return own + super().get_urls()  # type: ignore[misc]  # before the admin's "<path:object_id>/"

    def buttons(self, request: HttpRequest, obj: Any) -> list[dict[str, Any]]:
        """The actions the user may press on `obj` (None: on the list) in its current state."""
        if obj is None:
            actions = self.admin_actions.listing
            urls = [
                reverse(f"admin:{self._url_name(a.key)}", current_app=self.admin_site.name) for a in actions
            ]
        else:
            actions = self.admin_actions.record
            urls = [
                reverse(f"admin:{self._url_name()}", args=[obj.pk, a.key], current_app=self.admin_site.name)
                for a in actions
            ]
        return [
            {"label": action.label, "url": url, "danger": action.danger}
            for action, url in zip(actions, urls, strict=True)
            if action.may(request.user, obj) and action.offered(request.user, obj)
        ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        add = self.admin_actions.add
        if add is None:
            return super().has_add_permission(request)  # type: ignore[misc,no-any-return]
        return self.has_view_permission(request) and add.may(request.user, None)  # type: ignore[attr-defined,no-any-return]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The `add` action in place of the model form: on success, the new record's page."""
        add = self.admin_actions.add
        if add is None:
            return super().add_view(request, form_url, extra_context)  # type: ignore[misc,no-any-return]
        if request.method not in ("GET", "POST"):
            return HttpResponse(status=405)
        if not self.has_add_permission(request):
            raise PermissionDenied
        back = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist", current_app=self.admin_site.name
        )
        return self._serve(request, add, None, back, errors_in_form=True, summary=[])

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        context["admin_buttons"] = self.buttons(request, obj) if obj is not None else []
        return super().render_change_form(request, context, add, change, form_url, obj)  # type: ignore[misc]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "admin_buttons": self.buttons(request, None)}
        return super().changelist_view(request, extra)  # type: ignore[misc]

    def _pick(self, actions: tuple[AdminAction, ...], user: Any, obj: Any, key: str) -> AdminAction:
        # Two actions may share a key (the insurer's and the bank's "decline"): the one this user may press.
        candidates = [a for a in actions if a.key == key]
        if not candidates:
            raise Http404(gettext("No such action."))
        for action in candidates:
            if action.may(user, obj):
                return action
        raise PermissionDenied(gettext("Your organisation may not do this here."))

    def record_action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        if request.method not in ("GET", "POST"):
            return HttpResponse(status=405)
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:  # not there, or not the user's to see: the admin's own answer
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        spec = self._pick(self.admin_actions.record, request.user, obj, action)
        back = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[obj.pk],
            current_app=self.admin_site.name,
        )
        return self._serve(request, spec, obj, back, original=obj, summary=self.action_summary(obj))

    def list_action_view(self, request: HttpRequest, action: str) -> HttpResponse:
        if request.method not in ("GET", "POST"):
            return HttpResponse(status=405)
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        spec = self._pick(self.admin_actions.listing, request.user, None, action)
        back = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist", current_app=self.admin_site.name
        )
        return self._serve(request, spec, None, back, original=self.opts.verbose_name_plural, summary=[])

    def _serve(
        self,
        request: HttpRequest,
        spec: AdminAction,
        obj: Any,
        back: str,
        *,
        errors_in_form: bool = False,
        **context: Any,
    ) -> HttpResponse:
        """GET: the form (or, when the action is not open in the record's state, a warning);
        POST: the service, then back to the page (or on to the record it names) with its message.
        A broken rule is an error message on the page gone back to, or, `errors_in_form`, errors
        of the form shown again."""
        form = spec.form(request, obj)
        if request.method == "POST" and spec.preview is not None and "_preview" in request.POST:
            if form.is_valid():
                try:
                    context["summary"] = spec.preview(request.user, obj, form.cleaned_data)
                except DomainError as exc:
                    _form_errors(form, exc)
        elif request.method == "POST":
            if form.is_valid():
                try:
                    done = spec.run(request.user, obj, form.cleaned_data)
                except DomainError as exc:
                    if not errors_in_form:
                        self.message_user(request, exc.message, messages.ERROR)  # type: ignore[attr-defined]
                        return HttpResponseRedirect(back)
                    _form_errors(form, exc)
                else:
                    if isinstance(done, Done):
                        self.message_user(request, done.message, messages.SUCCESS)  # type: ignore[attr-defined]
                        return HttpResponseRedirect(self._record_url(done.record))
                    self.message_user(request, done, messages.SUCCESS)  # type: ignore[attr-defined]
                    return HttpResponseRedirect(back)
        elif not spec.offered(request.user, obj):
            self.message_user(request, self._closed(spec, obj), messages.WARNING)  # type: ignore[attr-defined]
            return HttpResponseRedirect(back)
        return self.action_page(
            request,
            title=spec.label,
            form=form,
            submit_label=spec.submit_label or spec.label,
            back_url=back,
            intro=spec.intro(request.user, obj),
            preview_label=spec.preview_label if spec.preview is not None else None,
            **context,
        )

    def _record_url(self, record: Any) -> str:
        opts = record._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_change",
            args=[record.pk],
            current_app=self.admin_site.name,
        )

    def _closed(self, spec: AdminAction, obj: Any) -> str:
        if hasattr(obj, "get_status_display"):
            return gettext("“%(action)s” is not open while the %(record)s is %(status)s.") % {
                "action": spec.label,
                "record": self.opts.verbose_name,
                "status": obj.get_status_display(),
            }
        return gettext("“%(action)s” is not open now.") % {"action": spec.label}

    def action_page(self, request: HttpRequest, **context: Any) -> TemplateResponse:
        """The one form page of an action, of a record's page, a list's page or an "Add" page."""
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            ACTION_TEMPLATE,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "has_view_permission": True,
                "summary": [],
                **context,
            },
        )


def _form_errors(form: forms.Form, exc: DomainError) -> None:
    """A service's refusal as errors of the form: on the field it names when the form has it (a form
    that names its fields otherwise maps them in `add_service_error(name, errors)`), else above it."""
    add = getattr(form, "add_service_error", None)
    for name, errors in exc.fields.items():
        if add is not None:
            add(name, errors)
        else:
            form.add_error(name if name in form.fields else None, errors)
    if not exc.fields:
        form.add_error(None, exc.message)
