"""Admin: bank staff upload their daily repayment file here (the same service as the API) and
follow its progress and result. Nothing here edits a record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.errors import DomainError
from fintech.models import (
    FileStatus,
    OrganizationKind,
    RepaymentFile,
    RepaymentFileLine,
)
from fintech.services.repayment_files import HEADER, repayment_file_errors, repayment_file_upload

from .display import table
from .scoping import ReviewInline, ScopedAdmin

K = OrganizationKind


class RepaymentFileUploadForm(forms.Form):
    file = forms.FileField(
        label=_("repayment file"),
        help_text=_(
            "CSV in UTF-8 with the header loan,amount,value_date,transaction_id; loan is the loan id or "
            "its external id, amounts in plain notation (1000.00), value dates YYYY-MM-DD."
        ),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # Normally answered earlier by the body-size middleware; kept for requests it lets through.
        if upload.size > settings.MAX_REQUEST_BODY_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB."), code="too_large")
        return upload


class RepaymentFileLineInline(ReviewInline):
    model = RepaymentFileLine
    view_roles = (K.BANK,)
    fields = ("line", "transaction_id", "repayment_link", "reason")
    verbose_name_plural = _("processed lines")

    @admin.display(description=_("repayment"))
    def repayment_link(self, obj: RepaymentFileLine) -> Any:
        if obj.repayment_id is None:
            return "—"
        return f"#{obj.repayment_id}"


@admin.register(RepaymentFile)
class RepaymentFileAdmin(ScopedAdmin):
    """A bank's uploads. "Add" is the upload form, which calls repayment_file_upload; the detail
    page shows the progress (refreshed while the worker runs) and every rejected line."""

    view_roles = (K.BANK,)
    list_display = [
        "id",
        "filename",
        "status",
        "progress",
        "lines_applied",
        "lines_rejected",
        "uploaded_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
    list_select_related = ["uploaded_by"]
    search_fields = ["filename"]
    fields = [
        ("filename", "status"),
        ("progress", "lines_applied", "lines_rejected"),
        ("uploaded_by", "created_at", "finished_at"),
        "errors_panel",
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])
    inlines = [RepaymentFileLineInline]
    change_form_template = "admin/fintech/repaymentfile/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).defer("content")  # up to 10 MB a file, never shown

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.may_view(request) and access.acts_for(request.user, K.BANK)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.display(description=_("progress"))
    def progress(self, obj: RepaymentFile) -> str:
        return f"{obj.lines_done} / {obj.lines_total}"

    @admin.display(description=_("rejected lines"))
    def errors_panel(self, obj: RepaymentFile) -> SafeString:
        return table(
            [_("line"), _("reason")],
            [
                (e["line"] if e["line"] is not None else _("file"), e["reason"])
                for e in repayment_file_errors(obj)
            ],
            _("No line rejected."),
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: RepaymentFile | None = None,
    ) -> HttpResponse:
        context["refresh_seconds"] = (
            3 if obj is not None and obj.status in (FileStatus.PENDING, FileStatus.PROCESSING) else 0
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The upload form: the file goes to repayment_file_upload with the user as actor; a refused
        file (not UTF-8, no header) comes back as a form error and nothing is stored."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = RepaymentFileUploadForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    file = repayment_file_upload(
                        actor=request.user,  # type: ignore[arg-type]
                        filename=upload.name or "",
                        content=upload.read(),
                    )
                except DomainError as exc:
                    form.add_error("file", exc.message)
                else:
                    self.message_user(
                        request,
                        gettext("File %(name)s uploaded: %(lines)s lines queued for processing.")
                        % {"name": file.filename, "lines": file.lines_total},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse(
                            "admin:fintech_repaymentfile_change",
                            args=[file.pk],
                            current_app=self.admin_site.name,
                        )
                    )
        else:
            form = RepaymentFileUploadForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Upload a repayment file"),
            "form": form,
            "header": ",".join(HEADER),
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/fintech/repaymentfile/upload.html", context)
