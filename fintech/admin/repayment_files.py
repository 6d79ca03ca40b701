"""Admin: bank staff upload their daily repayment file here (the same service as the API) and
follow its progress and result. Nothing here edits a record."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.models import OrganizationKind, RepaymentFile, RepaymentFileLine, User
from fintech.services.repayment_files import HEADER, repayment_file_errors, repayment_file_upload

from .actions import ActionsMixin, AdminAction, Buttons, Done
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


def _upload(actor: User, obj: None, data: dict[str, Any]) -> Done:
    """The file goes to repayment_file_upload with the user as actor; a refused file (not UTF-8, no
    header) comes back as an error of the form and nothing is stored."""
    upload = data["file"]
    file = repayment_file_upload(actor=actor, filename=upload.name or "", content=upload.read())
    message = gettext("File %(name)s uploaded: %(lines)s lines queued for processing.") % {
        "name": file.filename,
        "lines": file.lines_total,
    }
    return Done(message, file)


def _upload_intro(user: Any, obj: None) -> str:
    text = gettext(
        "The first line must be the header <code>%(header)s</code>. Each line is applied at most "
        "once: a bank transaction id already applied is rejected as a duplicate. Rejected lines "
        "are listed with their line number, the header being line 1."
    )
    return format_html(text % {"header": "{}"}, ",".join(HEADER))  # the header escaped


UPLOAD = AdminAction(
    key="upload",
    label=_("Upload a repayment file"),
    submit_label=_("Upload"),
    form_class=RepaymentFileUploadForm,
    may=lambda user, obj: access.acts_for(user, K.BANK),
    intro=_upload_intro,
    run=_upload,
)


@admin.register(RepaymentFile)
class RepaymentFileAdmin(ActionsMixin, ScopedAdmin):
    """A bank's uploads. "Add" is the upload form (the `UPLOAD` action), which calls
    repayment_file_upload; the detail page shows the progress (refreshed while the worker runs) and
    every rejected line."""

    view_roles = (K.BANK,)
    admin_actions = Buttons(add=UPLOAD)
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
