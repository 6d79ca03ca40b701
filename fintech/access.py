"""Who may see and do what (DOMAIN.md section 11): the one place the API, the admin and the services
ask. Zulip's access_* functions are the model.

- `visible(user, queryset)`: the rows of any scoped model the user's organisation may see, from the
  one table `SCOPES` (platform staff see everything); the named `*_visible_to` querysets build on it.
- `acts_for(actor, party, obj)`: the actor works for an organisation of kind `party` and `obj` names
  that organisation for that party (for a regulator: `obj` belongs to an SME of its region).
- `require_*`: the same questions, answered with the API's 403 (`RoleNotAllowed`).

Each scoped screen or view may further restrict *which roles* open it (an admin's `view_roles`, a
selector's roles); which *rows* a role sees is decided here only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from fintech.errors import RoleNotAllowed
from fintech.models import (
    Application,
    AuditLog,
    Finding,
    FundMovement,
    Installment,
    JournalEntry,
    Loan,
    LoanExtension,
    LossEvent,
    Notification,
    Organization,
    OrganizationKind,
    Patent,
    Patentee,
    PatentEventFile,
    PatentValuation,
    Pledge,
    PledgedPatent,
    Policy,
    Posting,
    PremiumPayment,
    Prepayment,
    Program,
    Recovery,
    Repayment,
    RepaymentFile,
    RepaymentFileLine,
    Revaluation,
    Scenario,
    ScheduleVersion,
    Settlement,
    SettlementParty,
    SubsidyClawback,
    SubsidyEntitlement,
    SubsidyRun,
    User,
    Valuation,
    WebhookDelivery,
    WebhookEndpoint,
)

K = OrganizationKind
M = TypeVar("M", bound=Model)

# --- who the actor is ----------------------------------------------------------------------------


def is_platform(user: Any) -> bool:
    """Platform staff (or a superuser): they see every row and act for no party."""
    return bool(getattr(user, "is_superuser", False)) or getattr(user, "role", "") == K.PLATFORM


def role_of(user: Any) -> str:
    """The kind of the user's organisation ("" for a user without one)."""
    return str(getattr(user, "role", "") or "")


def role_label(kind: str) -> str:
    """The name of an organisation kind in the active language ("none" for no organisation)."""
    return str(K(kind).label) if kind in K.values else pgettext("role", "none")


def is_active_member(user: Any) -> bool:
    """An active user of an active organisation (a superuser without one counts as platform).

    Deactivating an organisation locks out all its staff, in the API and the admin alike.
    """
    if not getattr(user, "is_active", False):
        return False
    org = getattr(user, "organization", None)
    if org is None:
        return bool(getattr(user, "is_superuser", False))
    return bool(org.is_active)


def staff_in(user: Any, *roles: str) -> bool:
    """Active admin staff of an active organisation with one of these roles; platform staff pass.

    Members are onboarded with an organisation, never with Django permission rows: opening a
    scoped screen is granted by role, and what it lists is decided by `visible`.
    """
    if not (getattr(user, "is_staff", False) and is_active_member(user)):
        return False
    return is_platform(user) or role_of(user) in roles


def may_review(user: Any) -> bool:
    """Platform staff, and the admin staff of an active member organisation."""
    return is_platform(user) or bool(getattr(user, "is_staff", False) and is_active_member(user))


def require_role(user: Any, *kinds: str) -> None:
    """Raise 403 unless the user's organisation is of one of these kinds (platform staff pass)."""
    if is_platform(user) or role_of(user) in kinds:
        return
    raise RoleNotAllowed(
        _("This needs the role %(roles)s; you are '%(role)s'.")
        % {
            "roles": pgettext("between roles", " or ").join(role_label(k) for k in kinds),
            "role": role_label(role_of(user)),
        }
    )


def require_regulator(user: Any) -> None:
    """Subsidy runs and the risk fund's money are the regulator's alone (DOMAIN.md section 11):
    platform staff manage programmes and rates, they do not move that money."""
    if not acts_for(user, K.REGULATOR):
        raise RoleNotAllowed(
            _("Only a regulator may do this; you are '%(role)s'.") % {"role": role_label(role_of(user))}
        )


# --- what rows each organisation sees ------------------------------------------------------------

RegionLookup = str | Callable[[int], Q]


@dataclass(frozen=True)
class Scope:
    """How a row reaches the organisations that see it.

    `parties`: per role, the lookups from the row to an organisation of that role;
    `members`: lookups any member follows to its own organisation (whatever its role);
    `region`: for regulators, lookups to the region of the row's SME (or of its programme), or a
    function of the region id giving a Q;
    `sme_only`: rows only the SME sees (drafts, before they are submitted).
    """

    parties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    members: tuple[str, ...] = ()
    region: tuple[RegionLookup, ...] = ()
    sme_only: Q | None = None

    def via(self, prefix: str) -> Scope:
        """The same scope seen from a row that points at this one through `prefix`."""
        return Scope(
            parties={role: tuple(f"{prefix}__{lk}" for lk in lks) for role, lks in self.parties.items()},
            members=tuple(f"{prefix}__{lk}" for lk in self.members),
            region=tuple(f"{prefix}__{lk}" for lk in self.region if isinstance(lk, str)),
        )


def _ledger_region(program: str) -> Callable[[int], Q]:
    """The loan-free entries (fund top-ups and the like) of programmes serving the region."""

    def q(region_id: int) -> Q:
        serving = Program.objects.filter(regions__pk=region_id).values("pk")
        return Q(loan__isnull=True, **{f"{program}_id__in": serving})

    return q


# Applications are seen from submission on by the parties they name (DOMAIN.md section 11); an
# appraisal firm sees its valuations only, never the policy, the loan or what follows.
_APPLICATION = Scope(
    parties={K.SME: ("sme",), K.BANK: ("bank",), K.INSURER: ("insurer",), K.APPRAISER: ("appraiser",)},
    region=("sme__region",),
    # Never submitted (a draft, or a draft withdrawn before submission): the SME's alone.
    sme_only=Q(submitted_on__isnull=True),
)
_LOAN = Scope(
    parties={K.SME: ("sme",), K.BANK: ("bank",), K.INSURER: ("policy__insurer",)}, region=("sme__region",)
)
_POLICY = Scope(
    parties={K.INSURER: ("insurer",), K.BANK: ("application__bank",), K.SME: ("application__sme",)},
    region=("application__sme__region",),
)
_VALUATION = Scope(
    parties={
        K.APPRAISER: ("appraiser",),
        K.SME: ("application__sme",),
        K.BANK: ("application__bank",),
        K.INSURER: ("application__insurer",),
    },
    region=("application__sme__region",),
)
_PLEDGE = Scope(parties={K.BANK: ("loan__bank",)}, region=("loan__sme__region",))
_LOSS_EVENT = _LOAN.via("loan")
_PATENT = Scope(parties={K.SME: ("owner",)}, region=("owner__region",))
_PROGRAM = Scope(region=("regions",))  # the programmes serving a regulator's region

SCOPES: dict[type[Model], Scope] = {
    Organization: Scope(members=("pk",)),
    User: Scope(members=("organization",)),
    AuditLog: Scope(members=("actor_organization",)),
    Patent: _PATENT,
    Patentee: _PATENT.via("patent"),
    Application: _APPLICATION,
    Valuation: _VALUATION,
    PatentValuation: _VALUATION.via("valuation"),
    Policy: _POLICY,
    PremiumPayment: _POLICY.via("policy"),
    Loan: _LOAN,
    Installment: _LOAN.via("loan"),
    Repayment: _LOAN.via("loan"),
    Prepayment: _LOAN.via("loan"),
    ScheduleVersion: _LOAN.via("loan"),
    LoanExtension: _LOAN.via("loan"),
    Pledge: _PLEDGE,
    PledgedPatent: _PLEDGE.via("pledge"),
    RepaymentFile: Scope(parties={K.BANK: ("bank",)}),
    RepaymentFileLine: Scope(parties={K.BANK: ("file__bank",)}),
    LossEvent: _LOSS_EVENT,
    Recovery: _LOSS_EVENT.via("loss_event"),
    # The paying organisation sees its settlements, the bank those paid to it, a regulator its region's.
    Settlement: Scope(
        members=("payer",),
        parties={K.BANK: ("loss_event__loan__bank",)},
        region=("loss_event__loan__sme__region",),
    ),
    Program: _PROGRAM,
    # Collateral watch: a loan's findings are its parties' and its region's regulators'.
    Finding: _LOAN.via("loan"),
    Notification: Scope(members=("organization",)),
    PatentEventFile: Scope(members=("uploaded_by__organization",)),
    Revaluation: Scope(
        members=("appraiser",), parties={K.BANK: ("loan__bank",), K.INSURER: ("loan__policy__insurer",)}
    ),
    FundMovement: _PROGRAM.via("program"),
    SubsidyRun: _PROGRAM.via("program"),
    Scenario: _PROGRAM.via("program"),
    SubsidyEntitlement: Scope(parties={K.SME: ("sme",)}, region=("sme__region",)),
    SubsidyClawback: Scope(parties={K.SME: ("sme",)}, region=("sme__region",)),
    # Regulators read the ledger of their region's loans and of their programmes; nobody else but
    # the platform reads it (a party's own figures are in its statements).
    JournalEntry: Scope(region=("loan__sme__region", _ledger_region("program"))),
    Posting: Scope(region=("loan__sme__region", _ledger_region("entry__program"))),
    # An organisation's own webhook receivers and what was delivered to them.
    WebhookEndpoint: Scope(members=("organization",)),
    WebhookDelivery: Scope(members=("endpoint__organization",)),
}


def visible(user: Any, qs: QuerySet[M]) -> QuerySet[M]:
    """`qs` narrowed to the rows the user's organisation may see (platform staff: all of them)."""
    if is_platform(user):
        return qs
    org = getattr(user, "organization", None)
    if org is None:
        return qs.none()
    scope = SCOPES[qs.model]
    wanted = Q(pk__in=[])
    for lookup in (*scope.members, *scope.parties.get(org.kind, ())):
        wanted |= Q(**{lookup: org.pk})
    if org.kind == K.REGULATOR:
        for region in scope.region:
            wanted |= Q(**{region: org.region_id}) if isinstance(region, str) else region(org.region_id)
    qs = qs.filter(wanted)
    if scope.sme_only is not None and org.kind != K.SME:
        qs = qs.exclude(scope.sme_only)
    return qs


def may_ever_see(user: Any, model: type[Model]) -> bool:
    """Whether the user's role can see any row of `model` at all (platform staff: yes): a screen
    that would always list nothing for a role is not shown to it."""
    if is_platform(user):
        return True
    org = getattr(user, "organization", None)
    if org is None:
        return False
    scope = SCOPES[model]
    return bool(scope.members or scope.parties.get(org.kind) or (org.kind == K.REGULATOR and scope.region))


def _follow(obj: Any, lookup: str) -> Any:
    """The id a lookup reaches from an object: "policy__insurer" -> obj.policy.insurer_id."""
    *path, last = lookup.split("__")
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id")


def acts_for(actor: Any, party: str, obj: Model | None = None) -> bool:
    """The actor works for an organisation of kind `party` and, given `obj`, it is the one `obj`
    names for that party; for a regulator, `obj` belongs to an SME of its region. Platform staff act
    for no party: they administer, the parties act."""
    org = getattr(actor, "organization", None)
    if org is None or role_of(actor) != party:
        return False
    if obj is None:
        return True
    scope = SCOPES[type(obj)]
    if party == K.REGULATOR:
        return any(_follow(obj, lk) == org.region_id for lk in scope.region if isinstance(lk, str))
    return any(_follow(obj, lk) == org.pk for lk in scope.parties.get(party, ()))


def require_acts_for(actor: Any, party: str, obj: Model | None, message: str | Promise) -> None:
    """`acts_for`, or a 403 with `message`."""
    if not acts_for(actor, party, obj):
        raise RoleNotAllowed(message)


def belongs_to(actor: Any, organization_id: int | None) -> bool:
    """The actor is a member of this organisation."""
    return organization_id is not None and getattr(actor, "organization_id", None) == organization_id


def sees_policy_and_loan(user: Any) -> bool:
    """An appraisal firm sees the valuation side of an application only (DOMAIN.md section 11): not
    its policy, its loan and schedule, or the audit trail of the other parties' actions."""
    return is_platform(user) or role_of(user) != K.APPRAISER


# Who settles which share of a loss (DOMAIN.md section 10): the policy's insurer its own, a
# regulator of the SME's region the government risk fund's.
SETTLING_ROLE = {SettlementParty.INSURER: K.INSURER, SettlementParty.GOVERNMENT: K.REGULATOR}


def settling_party(actor: Any, loss: LossEvent | Loan) -> str | None:
    """The share of this loss the actor's organisation settles, if any."""
    loan = loss.loan if isinstance(loss, LossEvent) else loss
    for party, role in SETTLING_ROLE.items():
        if acts_for(actor, role, loan):
            return party
    return None


# --- the named querysets -------------------------------------------------------------------------


def applications_visible_to(user: User) -> QuerySet[Application]:
    qs = Application.objects.select_related(
        "sme", "program", "bank", "insurer", "appraiser", "policy", "loan", "valuation"
    ).prefetch_related("patents")
    return visible(user, qs)


def loans_visible_to(user: User) -> QuerySet[Loan]:
    return visible(user, Loan.objects.select_related("application", "policy", "sme", "bank"))


def valuations_visible_to(user: User) -> QuerySet[Valuation]:
    qs = (
        Valuation.objects.select_related("application")
        .prefetch_related("application__patents", "lines")
        .order_by("-id")
    )
    return visible(user, qs)


def extensions_visible_to(user: User) -> QuerySet[LoanExtension]:
    return visible(
        user, LoanExtension.objects.select_related("loan", "loan__policy", "loan__sme", "loan__bank")
    )


def policies_visible_to(user: User) -> QuerySet[Policy]:
    return visible(user, Policy.objects.select_related("application"))


def patents_visible_to(user: User) -> QuerySet[Patent]:
    """SMEs see their own patents; regulators those of SMEs in their region; the platform all."""
    return visible(user, Patent.objects.select_related("owner").prefetch_related("patentees").order_by("id"))


def programs_served_for(user: User) -> QuerySet[Program]:
    """The programmes serving a regulator's region (their runs and risk funds); the platform all."""
    return visible(user, Program.objects.all())


def loss_events_visible_to(user: User) -> QuerySet[LossEvent]:
    qs = LossEvent.objects.select_related(
        "program", "loan", "loan__sme", "loan__bank", "loan__policy", "loan__policy__insurer"
    )
    return visible(user, qs)


def settlements_visible_to(user: User) -> QuerySet[Settlement]:
    qs = Settlement.objects.select_related("loss_event", "loss_event__loan", "payer", "created_by")
    return visible(user, qs)


def subsidy_runs_visible_to(user: User) -> QuerySet[SubsidyRun]:
    require_role(user, K.REGULATOR)
    return visible(user, SubsidyRun.objects.select_related("program"))


def scenario_programs_for(user: User) -> QuerySet[Program]:
    """Programmes a user may run stress scenarios on: a regulator's are those serving its region."""
    require_role(user, K.REGULATOR)
    return programs_served_for(user)


def scenarios_visible_to(user: User) -> QuerySet[Scenario]:
    """Stress scenarios are the regulators' (and the platform's) alone, per programme served."""
    require_role(user, K.REGULATOR)
    return visible(user, Scenario.objects.select_related("program", "started_by"))


def entitlements_visible_to(user: User) -> QuerySet[SubsidyEntitlement]:
    """An SME's own entitlements; a regulator's region; everything for the platform."""
    require_role(user, K.REGULATOR, K.SME)
    return visible(user, SubsidyEntitlement.objects.all())


def postings_visible_to(user: User) -> QuerySet[Posting]:
    require_role(user, K.REGULATOR)
    return visible(user, Posting.objects.all())


def repayment_files_visible_to(user: User) -> QuerySet[RepaymentFile]:
    """A bank sees the files it uploaded; platform staff all of them."""
    require_role(user, K.BANK)
    return visible(user, RepaymentFile.objects.defer("content"))  # up to 10 MB a file: never read


# --- who is entitled to an event (the outbox) ----------------------------------------------------


def event_audiences(model: type[Model], pks: list[int]) -> dict[int, set[int]]:
    """For each row of `model`, the organisations entitled to an event about it: the same ones
    `visible` would show the row to (its parties, its members, the regulators of its SME's region;
    a never-submitted application its SME alone). Platform staff read every event and are not
    listed. Two queries, whatever the number of rows: the outbox writes events by the chunk."""
    return event_audiences_with(model, pks)[0]


def event_audiences_with(
    model: type[Model], pks: list[int], also: Sequence[str] = ()
) -> tuple[dict[int, set[int]], dict[int, tuple[Any, ...]]]:
    """`event_audiences`, and for each row the values of the lookups `also` read by the same
    query (the outbox's aggregate root and loan of each subject)."""
    if not pks:
        return {}, {}
    scope = SCOPES[model]
    party_lookups = [lk for lks in scope.parties.values() for lk in lks]
    org_lookups = [*scope.members, *party_lookups]
    regions = [lk for lk in scope.region if isinstance(lk, str)]
    rows = model._default_manager.filter(pk__in=pks).values(
        *dict.fromkeys(["pk", *org_lookups, *regions, *also])
    )
    private: set[int] = set()
    if scope.sme_only is not None:
        private = set(
            model._default_manager.filter(pk__in=pks).filter(scope.sme_only).values_list("pk", flat=True)
        )
    sme_lookups = list(scope.parties.get(K.SME, ()))
    found = list(rows)
    region_ids = {row[lk] for row in found for lk in regions if row[lk] is not None}
    regulators: dict[Any, set[int]] = {}
    if region_ids:
        for org_id, region_id in Organization.objects.filter(
            kind=K.REGULATOR, region_id__in=region_ids
        ).values_list("pk", "region_id"):
            regulators.setdefault(region_id, set()).add(org_id)
    audiences: dict[int, set[int]] = {}
    values: dict[int, tuple[Any, ...]] = {}
    for row in found:
        lookups = sme_lookups if row["pk"] in private else org_lookups
        orgs = {row[lk] for lk in lookups if row[lk] is not None}
        if row["pk"] not in private:
            for lk in regions:
                orgs |= regulators.get(row[lk], set())
        audiences[row["pk"]] = orgs
        values[row["pk"]] = tuple(row[lookup] for lookup in also)
    return audiences, values


def event_audience_pairs(model: type[Model], pks: Any) -> QuerySet[Any]:
    """The (row, organisation) pairs of `event_audiences` as ONE query (a UNION of one SELECT per
    lookup), for the rows whose pk is in `pks` (a list, or an expression such as a RawSQL of ids):
    for a bulk writer that inserts the recipients in SQL, without the rows passing through Python."""
    scope = SCOPES[model]
    every = model._default_manager.filter(pk__in=pks)
    public = every if scope.sme_only is None else every.exclude(scope.sme_only)
    sme_lookups = set(scope.parties.get(K.SME, ()))
    party_lookups = [lk for lks in scope.parties.values() for lk in lks]
    parts: list[QuerySet[Any]] = []
    for lk in dict.fromkeys([*scope.members, *party_lookups]):
        rows = every if lk in sme_lookups else public
        parts.append(rows.filter(**{f"{lk}__isnull": False}).order_by().values_list("pk", lk))
    regulators = Organization._meta.get_field("region").related_query_name()
    for region in scope.region:
        if isinstance(region, str):
            org = f"{region}__{regulators}"
            regs = public.filter(**{f"{org}__kind": K.REGULATOR}).order_by()
            parts.append(regs.values_list("pk", f"{org}__pk"))
    if not parts:
        return every.none().values_list("pk", "pk")
    return parts[0].union(*parts[1:])


def event_audience(obj: Model) -> set[int]:
    """The organisations entitled to an event about `obj` (see `event_audiences`)."""
    return event_audiences(type(obj), [obj.pk]).get(obj.pk, set())


def events_visible_to(user: Any, qs: QuerySet[M]) -> QuerySet[M]:
    """Events (or deliveries, through `event`) the user's organisation is entitled to; platform
    staff read them all."""
    if is_platform(user):
        return qs
    org_id = getattr(user, "organization_id", None)
    if org_id is None:
        return qs.none()
    prefix = "" if qs.model._meta.model_name == "event" else "event__"
    return qs.filter(**{f"{prefix}recipients__organization_id": org_id})


def webhook_endpoints_visible_to(user: Any, qs: QuerySet[M]) -> QuerySet[M]:
    """An organisation's own webhook endpoints (platform staff: all of them)."""
    return visible(user, qs)


def findings_visible_to(user: User) -> QuerySet[Finding]:
    """A loan's findings: its bank, insurer and SME; regulators of its region; the platform all."""
    return visible(user, Finding.objects.select_related("loan", "patent"))


def notifications_visible_to(user: User) -> QuerySet[Notification]:
    return visible(user, Notification.objects.select_related("finding"))


def patent_event_files_visible_to(user: User) -> QuerySet[PatentEventFile]:
    """The files of the caller's organisation (banks); platform staff all of them."""
    require_role(user, K.BANK)
    return visible(user, PatentEventFile.objects.defer("content"))


def event_patents_for(actor: Any) -> QuerySet[Patent]:
    """The patents whose legal-status events and fee payments the actor may record: platform staff
    (and the system's own watch, with no actor) any; a bank only those under an active pledge of its
    own loans; anyone else none. Any other patent is, for the actor, an unknown one: a file's line
    never tells whether it exists or what state it is in."""
    if actor is None or is_platform(actor):
        return Patent.objects.all()
    if role_of(actor) != K.BANK or getattr(actor, "organization_id", None) is None:
        return Patent.objects.none()
    return Patent.objects.filter(
        pledges__is_active=True, pledges__pledge__loan__bank_id=actor.organization_id
    ).distinct()


def revaluations_visible_to(user: User) -> QuerySet[Revaluation]:
    return visible(user, Revaluation.objects.select_related("loan"))
