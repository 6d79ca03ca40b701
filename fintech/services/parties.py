"""Parties: SME self-registration and onboarding of banks, insurers, appraisers and regulators."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fintech.errors import AlreadyRegistered, InvalidInput, NotAnSme
from fintech.models import Organization, OrganizationKind, Region, User
from fintech.rules.identifiers import InvalidIdentifier, validate_uscc
from fintech.rules.sme_size import INDUSTRY_CHOICES, SizeClass, classify_enterprise, sme_refusal_message

from .audit import audit_record

INDUSTRY_CODES = frozenset(code for code, _ in INDUSTRY_CHOICES)


def _region(code: str, field: str) -> Region:
    region = Region.objects.filter(code=str(code)).first()
    if region is None:
        raise InvalidInput.on(field, _("Unknown region code '%(code)s'.") % {"code": code})
    return region


def _uscc(raw: str, field: str) -> str:
    try:
        return validate_uscc(raw)
    except InvalidIdentifier as exc:
        raise InvalidInput.on(field, str(exc)) from exc


def _username(username: str, field: str = "username") -> None:
    """The user model's own rules (required, 150 characters, letters, digits and @/./+/-/_)."""
    try:
        User._meta.get_field("username").clean(username, None)
    except DjangoValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={field: list(exc.messages)}) from exc


def _password(password: str, user: User, field: str = "password") -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={field: list(exc.messages)}) from exc


@transaction.atomic
def sme_register(
    *,
    username: str,
    password: str,
    name: str,
    uscc: str,
    region_code: str,
    industry: str,
    employees: int,
    annual_revenue: Decimal,
    total_assets: Decimal,
) -> User:
    """Create an SME organisation and its first user, after the 2011 size check. Audited."""
    code = _uscc(uscc, "enterprise.uscc")
    region = _region(region_code, "enterprise.region_code")
    if industry not in INDUSTRY_CODES:
        raise InvalidInput.on(
            "enterprise.industry", _("Unknown industry '%(industry)s'.") % {"industry": industry}
        )
    try:
        size = classify_enterprise(industry, employees, annual_revenue, total_assets)
    except ValueError as exc:  # a negative figure
        raise InvalidInput.on("enterprise", str(exc)) from exc
    if size == SizeClass.LARGE:
        message = sme_refusal_message(industry, employees, annual_revenue, total_assets)
        raise NotAnSme(message, fields={"enterprise": [message]})
    _username(username)
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidInput.on("username", _("This username is taken."))
    user = User(username=username)
    _password(password, user)
    if Organization.objects.filter(uscc=code).exists():
        raise AlreadyRegistered(
            _("An organisation with this USCC is already registered."),
            fields={"enterprise.uscc": [_("Already registered.")]},
        )
    try:
        with transaction.atomic():
            org = Organization.objects.create(
                kind=OrganizationKind.SME,
                name=name,
                uscc=code,
                region=region,
                industry=industry,
                employees=employees,
                annual_revenue=annual_revenue,
                total_assets=total_assets,
                size_class=str(size),
            )
    except IntegrityError as exc:  # a concurrent registration of the same USCC won
        raise AlreadyRegistered(_("An organisation with this USCC is already registered.")) from exc
    user.organization = org
    user.set_password(password)
    user.save()
    audit_record(
        actor=user,
        action="sme.register",
        obj=org,
        to_state="registered",
        payload={"username": username, "uscc": code, "size_class": str(size)},
    )
    return user


@transaction.atomic
def member_add(
    *,
    kind: str,
    org_name: str,
    uscc: str,
    region_code: str,
    username: str,
    password: str,
    actor: User | None = None,
    extra: dict[str, Any] | None = None,
) -> User:
    """Onboard a party: find the organisation by its USCC (create it if missing) and add a user."""
    if kind not in OrganizationKind.values:
        raise InvalidInput.on(
            "kind",
            _("Unknown kind '%(kind)s'; one of %(choices)s.")
            % {"kind": kind, "choices": ", ".join(OrganizationKind.values)},
        )
    code = _uscc(uscc, "uscc")
    region = _region(region_code, "region")
    org = Organization.objects.select_for_update().filter(uscc=code).first()
    if org is None:
        if kind == OrganizationKind.SME:
            raise InvalidInput.on(
                "kind", _("SMEs register themselves through the API (they need a size check).")
            )
        org = Organization.objects.create(kind=kind, name=org_name, uscc=code, region=region, **(extra or {}))
        audit_record(
            actor=actor,
            action="organization.create",
            obj=org,
            to_state="active",
            payload={"kind": kind, "name": org_name, "uscc": code},
        )
    elif org.kind != kind:
        raise AlreadyRegistered(
            _("USCC %(code)s belongs to a member of another kind (%(kind)s, not %(other)s).")
            % {"code": code, "kind": OrganizationKind(org.kind).label, "other": OrganizationKind(kind).label}
        )
    _username(username)
    if User.objects.filter(username__iexact=username).exists():
        raise AlreadyRegistered(
            _("The username '%(username)s' is taken.") % {"username": username},
            fields={"username": [_("Taken.")]},
        )
    user = User(username=username, organization=org)
    _password(password, user)
    user.set_password(password)
    # Platform members run the admin; other parties' staff use their review screens there too.
    user.is_staff = kind != OrganizationKind.SME
    user.save()
    audit_record(
        actor=actor,
        action="user.create",
        obj=user,
        to_state="active",
        payload={"organization": org.pk, "kind": kind},
    )
    return user
