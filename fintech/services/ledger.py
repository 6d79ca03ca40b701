"""Posting to the double-entry ledger. Every money movement of the services lands here, in the
same transaction as the operational change, once per source record (a replay posts nothing).

Conventions (debit <- credit), each leg tagged with the party whose books it touches:
- premium paid:   insurer cash <- premium income; SME premium expense <- SME cash
- disbursement:   loans receivable <- bank cash; SME cash <- SME loans payable
- repayment:      bank cash <- loans receivable (principal), bank cash <- interest income;
                  SME loans payable <- SME cash (principal), SME interest expense <- SME cash
- loss at default: defaulted-loan clearing <- loans receivable (principal) and <- interest income
                  (interest part); then claim on insurer / claim on fund / bank credit loss <-
                  clearing (the three shares); insurer claims expense <- insurer claims payable;
                  fund loss expense <- fund claims payable
- settlement:     insurer (fund) claims payable <- insurer (fund) cash; bank cash <- claim
- recovery:       each party's cash <- its loss expense (its part of the recovery)
- fund top-up:    fund cash <- fund capital
- subsidies:      subsidy expense <- subsidies payable (approval); payable <- government budget
                  and SME cash <- SME subsidy income (payment)
- prepayment:     bank cash <- loans receivable and SME loans payable <- SME cash (principal of a
                  partial prepayment; a settlement's installments are booked as a repayment);
                  bank cash <- prepayment fee income, SME prepayment fee expense <- SME cash (fee)
- subsidy taken back (DOMAIN.md 8a): approved, not paid: subsidies payable <- subsidy expense;
                  paid: clawback receivable <- subsidy expense and SME subsidy income <- SME
                  clawback payable; netted in the SME's next run: subsidies payable <- clawback
                  receivable and SME clawback payable <- SME cash
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone

from fintech.models import JournalEntry, Loan, Posting, Program, User
from fintech.models.ledger import (  # the account codes, named here for the services that post
    BANK_CASH,
    BANK_CREDIT_LOSS,
    CLAIM_FUND,
    CLAIM_INSURER,
    CLAWBACK_RECEIVABLE,
    DEFAULT_CLEARING,
    FUND_CAPITAL,
    FUND_CASH,
    FUND_LOSS_EXPENSE,
    FUND_PAYABLE,
    GOV_BUDGET,
    INSURER_CASH,
    INSURER_CLAIMS_EXPENSE,
    INSURER_PAYABLE,
    INTEREST_INCOME,
    LOANS_RECEIVABLE,
    PREMIUM_INCOME,
    PREPAYMENT_FEE_INCOME,
    SME_CASH,
    SME_CLAWBACK_PAYABLE,
    SME_INTEREST_EXPENSE,
    SME_LOANS_PAYABLE,
    SME_PREMIUM_EXPENSE,
    SME_PREPAYMENT_FEE_EXPENSE,
    SME_SUBSIDY_INCOME,
    SUBSIDIES_PAYABLE,
    SUBSIDY_EXPENSE,
)

__all__ = [
    "BANK_CASH",
    "BANK_CREDIT_LOSS",
    "CLAIM_FUND",
    "CLAIM_INSURER",
    "CLAWBACK_RECEIVABLE",
    "DEFAULT_CLEARING",
    "FUND_CAPITAL",
    "FUND_CASH",
    "FUND_LOSS_EXPENSE",
    "FUND_PAYABLE",
    "GOV_BUDGET",
    "INSURER_CASH",
    "INSURER_CLAIMS_EXPENSE",
    "INSURER_PAYABLE",
    "INTEREST_INCOME",
    "LOANS_RECEIVABLE",
    "PREMIUM_INCOME",
    "PREPAYMENT_FEE_INCOME",
    "SME_CASH",
    "SME_CLAWBACK_PAYABLE",
    "SME_INTEREST_EXPENSE",
    "SME_LOANS_PAYABLE",
    "SME_PREMIUM_EXPENSE",
    "SME_PREPAYMENT_FEE_EXPENSE",
    "SME_SUBSIDY_INCOME",
    "SUBSIDIES_PAYABLE",
    "SUBSIDY_EXPENSE",
    "Entry",
    "Leg",
    "ledger_post",
    "ledger_post_many",
    "ledger_reverse",
]


@dataclass(frozen=True)
class Leg:
    debit: str
    credit: str
    amount: Decimal
    organization_id: int | None = None


@dataclass(frozen=True)
class Entry:
    """One journal entry to book for `source` (see ledger_post)."""

    kind: str
    booked_on: date
    source: models.Model
    legs: Sequence[Leg]
    loan: Loan | None = None
    program: Program | None = None
    memo: str = ""
    actor: User | None = None


def ledger_post(
    *,
    kind: str,
    booked_on: date,
    source: models.Model,
    legs: Sequence[Leg],
    loan: Loan | None = None,
    program: Program | None = None,
    memo: str = "",
    actor: User | None = None,
) -> JournalEntry | None:
    """Book one journal entry for `source` (once: an existing entry of this kind is returned).

    Legs of 0.00 are dropped; an entry with no leg left is not written.
    """
    entry = Entry(kind, booked_on, source, legs, loan=loan, program=program, memo=memo, actor=actor)
    return ledger_post_many([entry])[0]


def ledger_post_many(entries: Sequence[Entry]) -> list[JournalEntry | None]:
    """`ledger_post` for many sources at once (the close's defaults): one query for the entries
    already booked per kind and source type, one INSERT of the new entries, one of their legs.
    Returns, in the order given, each source's entry (the existing one on a replay; None when no
    leg is left)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_post must run inside the transaction of the movement it books")
    keys = [(e.kind, e.source._meta.label_lower, str(e.source.pk)) for e in entries]
    existing: dict[tuple[str, str, str], JournalEntry] = {}
    for kind, source_type in sorted({(k, t) for k, t, _ in keys}):
        ids = [i for k, t, i in keys if (k, t) == (kind, source_type)]
        for found in JournalEntry.objects.filter(kind=kind, source_type=source_type, source_id__in=ids):
            existing[(kind, source_type, found.source_id)] = found
    out: list[JournalEntry | None] = []
    new: list[tuple[JournalEntry, Entry, list[Leg]]] = []
    for key, e in zip(keys, entries, strict=True):
        if key in existing:
            out.append(existing[key])
            continue
        kept = [leg for leg in e.legs if leg.amount != 0]
        if any(leg.amount < 0 for leg in kept):
            raise ValueError("a leg's amount is never negative: swap its accounts")
        if not kept:
            out.append(None)
            continue
        journal = JournalEntry(
            kind=e.kind,
            booked_on=e.booked_on,
            memo=e.memo[:300],
            source_type=key[1],
            source_id=key[2],
            loan=e.loan,
            program=e.program,
            created_by=e.actor if e.actor is not None and e.actor.pk else None,
        )
        out.append(journal)
        new.append((journal, e, kept))
    if len(new) > 1 and connection.vendor == "postgresql":
        _entries_insert(new)
        return out
    JournalEntry.objects.bulk_create([journal for journal, _, _ in new])
    Posting.objects.bulk_create(
        Posting(
            entry=journal,
            debit_account_id=leg.debit,
            credit_account_id=leg.credit,
            amount=leg.amount,
            organization_id=leg.organization_id,
            loan=e.loan,
        )
        for journal, e, kept in new
        for leg in kept
    )
    return out


def _entries_insert(new: list[tuple[JournalEntry, Entry, list[Leg]]]) -> None:
    """PostgreSQL, a set-based writer's entries (the close's defaults: one entry and up to seven
    legs each): the entries and their legs in ONE statement over one JSON document, ids given in
    the order given (as `bulk_create` gave them), no model instance per leg."""
    now = timezone.now()
    qn = connection.ops.quote_name
    document = json.dumps(
        [
            {
                "k": journal.kind,
                "b": journal.booked_on.isoformat(),
                "m": journal.memo,
                "t": journal.source_type,
                "i": journal.source_id,
                "l": journal.loan_id,
                "p": journal.program_id,
                "u": journal.created_by_id,
                "g": [[leg.debit, leg.credit, str(leg.amount), leg.organization_id] for leg in kept],
            }
            for journal, _e, kept in new
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH doc AS (
                SELECT t.e, t.n FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n)
            ), entries AS (
                INSERT INTO {qn(JournalEntry._meta.db_table)} (kind, booked_on, memo, source_type,
                    source_id, loan_id, program_id, created_by_id, created_at)
                SELECT d.e->>'k', (d.e->>'b')::date, d.e->>'m', d.e->>'t', d.e->>'i',
                       (d.e->>'l')::bigint, (d.e->>'p')::bigint, (d.e->>'u')::bigint, %s
                FROM doc d ORDER BY d.n
                RETURNING id, kind, source_type, source_id, loan_id
            ), legs AS (
                INSERT INTO {qn(Posting._meta.db_table)} (entry_id, debit_account_id,
                    credit_account_id, amount, organization_id, loan_id)
                SELECT x.id, g.l->>0, g.l->>1, (g.l->>2)::numeric, (g.l->>3)::bigint, x.loan_id
                FROM doc d
                JOIN entries x ON x.kind = d.e->>'k' AND x.source_type = d.e->>'t'
                    AND x.source_id = d.e->>'i'
                CROSS JOIN LATERAL jsonb_array_elements(d.e->'g') WITH ORDINALITY AS g(l, m)
                ORDER BY d.n, g.m
            )
            SELECT x.id FROM entries x JOIN doc d ON x.kind = d.e->>'k' AND x.source_type = d.e->>'t'
                AND x.source_id = d.e->>'i'
            ORDER BY d.n""",  # noqa: S608 (the models' own tables)
            [document, now],
        )
        for (journal, _e, _kept), (pk,) in zip(new, cursor.fetchall(), strict=True):
            journal.pk, journal.created_at = pk, now


def ledger_reverse(
    *, entry: JournalEntry, booked_on: date, source: models.Model, actor: User | None = None, memo: str = ""
) -> JournalEntry | None:
    """Book the mirror image of an entry (debits and credits swapped); once per entry."""
    from fintech.models import EntryKind

    legs = [
        Leg(
            debit=p.credit_account_id,
            credit=p.debit_account_id,
            amount=p.amount,
            organization_id=p.organization_id,
        )
        for p in entry.postings.order_by("id")
    ]
    reversal = ledger_post(
        kind=EntryKind.REVERSAL,
        booked_on=booked_on,
        source=source,
        legs=legs,
        loan=entry.loan,
        program=entry.program,
        memo=memo or f"reverses entry {entry.pk}",
        actor=actor,
    )
    if reversal is not None and reversal.reverses_id is None:
        reversal.reverses = entry
        reversal.save(update_fields=["reverses"])
    return reversal
