"""One streamed query per exported entity.

Each export reads its rows in batches of `BATCH` by ascending id (keyset: `id > last`,
never OFFSET), with the related names and emails joined in the same query, so memory
stays flat and no row costs a query of its own. The order by id makes two exports of
the same data byte-identical. Services flush and never commit: the boundary commits
the audit event before the first byte leaves.

Columns (English snake_case; the customers, purchases and moments files load back
through crm/imports):

* customers: name, email, phone, company, segment, stage, loyalty, tier, language,
  marketing_consent, owner_email, created_at, renewal_date
* purchases: customer_email, customer_phone, purchased_on, amount, currency, description
* moments: customer_email, customer_phone, moment_type (its code), occurred_at, channel,
  staff_email, emotion, outcome, cost, notes
* commitments: customer_name, customer_email, moment_type, moment_occurred_at, kind,
  status, starts_at, due_at, met_at, breached_at, owner_email
* compensations: customer_name, customer_email, moment_type, commitment_kind, kind,
  value, cost, status, escalated, over_cap, proposed_at, decided_at, decided_by_email,
  issued_at, issued_by_email, reason, decision_note
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from crm import audit
from crm.auth.models import User
from crm.compensations.models import Compensation
from crm.compensations.services import filtered as compensation_filters
from crm.customers import purchases
from crm.customers.models import Customer, Purchase
from crm.customers.services import matching_customers
from crm.domain import N_, Forbidden, NotFound
from crm.exports.csvstream import BOOL, DATE, INSTANT, NUMBER, PLAIN, Column, CsvForm, encode_rows
from crm.exports.filters import ENTITIES, clean_filters, describe
from crm.extensions import db
from crm.moments.models import Commitment, Moment, MomentType

BATCH = 2000

COLUMNS = {
    "customers": [Column("name"), Column("email"), Column("phone"), Column("company"), Column("segment"),
                  Column("stage"), Column("loyalty"), Column("tier"), Column("language"),
                  Column("marketing_consent", BOOL), Column("owner_email"), Column("created_at", INSTANT),
                  Column("renewal_date", DATE)],
    "purchases": [Column("customer_email"), Column("customer_phone"), Column("purchased_on", DATE),
                  Column("amount", NUMBER), Column("currency"), Column("description")],
    "moments": [Column("customer_email"), Column("customer_phone"), Column("moment_type"),
                Column("occurred_at", INSTANT), Column("channel"), Column("staff_email"),
                Column("emotion", NUMBER), Column("outcome"), Column("cost", NUMBER), Column("notes")],
    "commitments": [Column("customer_name"), Column("customer_email"), Column("moment_type"),
                    Column("moment_occurred_at", INSTANT), Column("kind"), Column("status"),
                    Column("starts_at", INSTANT), Column("due_at", INSTANT), Column("met_at", INSTANT),
                    Column("breached_at", INSTANT), Column("owner_email")],
    "compensations": [Column("customer_name"), Column("customer_email"), Column("moment_type"),
                      Column("commitment_kind"), Column("kind"), Column("value", NUMBER), Column("cost", NUMBER),
                      Column("status"), Column("escalated", BOOL), Column("over_cap", BOOL),
                      Column("proposed_at", INSTANT), Column("decided_at", INSTANT), Column("decided_by_email"),
                      Column("issued_at", INSTANT), Column("issued_by_email"), Column("reason"),
                      Column("decision_note")],
}


def _customers(f: dict):
    owner = aliased(User)
    stmt = (select(Customer.id, Customer.name, Customer.email, Customer.phone, Customer.company, Customer.segment,
                   Customer.stage, Customer.loyalty, Customer.tier, Customer.language, Customer.marketing_consent,
                   owner.email, Customer.created_at, Customer.renewal_date)
            .outerjoin(owner, owner.id == Customer.owner_id))
    stmt = matching_customers(stmt, f["q"], stage=f["stage"], segment=f["segment"], owner_id=f["owner_id"])
    return stmt, Customer.id


def _purchases(f: dict):
    stmt = (select(Purchase.id, Customer.email, Customer.phone, Purchase.purchased_on, Purchase.amount,
                   Purchase.currency, Purchase.description)
            .join(Customer, Customer.id == Purchase.customer_id))
    if f["customer_id"]:
        stmt = stmt.where(Purchase.customer_id == f["customer_id"])
    return purchases.in_period(stmt, f["since"], f["until"]), Purchase.id


def _moments(f: dict):
    staff = aliased(User)
    stmt = (select(Moment.id, Customer.email, Customer.phone, MomentType.code, Moment.occurred_at, Moment.channel,
                   staff.email, Moment.emotion, Moment.outcome, Moment.cost, Moment.notes)
            .join(Customer, Customer.id == Moment.customer_id)
            .join(MomentType, MomentType.id == Moment.moment_type_id)
            .outerjoin(staff, staff.id == Moment.staff_id))
    if f["customer_id"]:
        stmt = stmt.where(Moment.customer_id == f["customer_id"])
    if f["moment_type_id"]:
        stmt = stmt.where(Moment.moment_type_id == f["moment_type_id"])
    if f["channel"]:
        stmt = stmt.where(Moment.channel == f["channel"])
    if f["since"]:
        stmt = stmt.where(Moment.occurred_at >= f["since"])
    if f["until"]:
        stmt = stmt.where(Moment.occurred_at < f["until"])
    return stmt, Moment.id


def _commitments(f: dict):
    owner = aliased(User)
    stmt = (select(Commitment.id, Customer.name, Customer.email, MomentType.code, Moment.occurred_at,
                   Commitment.kind, Commitment.status, Commitment.starts_at, Commitment.due_at, Commitment.met_at,
                   Commitment.breached_at, owner.email)
            .join(Customer, Customer.id == Commitment.customer_id)
            .join(Moment, Moment.id == Commitment.moment_id)
            .join(MomentType, MomentType.id == Moment.moment_type_id)
            .outerjoin(owner, owner.id == Commitment.owner_id))
    if f["statuses"]:
        stmt = stmt.where(Commitment.status.in_(f["statuses"]))
    if f["owner_id"]:
        stmt = stmt.where(Commitment.owner_id == f["owner_id"])
    if f["customer_id"]:
        stmt = stmt.where(Commitment.customer_id == f["customer_id"])
    return stmt, Commitment.id


def _compensations(f: dict):
    # Aliases, because the review page's filters join Moment, MomentType and Customer themselves.
    customer, moment, moment_type, commitment = (aliased(Customer), aliased(Moment), aliased(MomentType),
                                                 aliased(Commitment))
    decider, issuer = aliased(User), aliased(User)
    stmt = (select(Compensation.id, customer.name, customer.email, moment_type.code, commitment.kind,
                   Compensation.kind, Compensation.value, Compensation.cost, Compensation.status,
                   Compensation.escalated, Compensation.over_cap, Compensation.proposed_at, Compensation.decided_at,
                   decider.email, Compensation.issued_at, issuer.email, Compensation.reason,
                   Compensation.decision_note)
            .join(customer, customer.id == Compensation.customer_id)
            .outerjoin(moment, moment.id == Compensation.moment_id)
            .outerjoin(moment_type, moment_type.id == moment.moment_type_id)
            .outerjoin(commitment, commitment.id == Compensation.commitment_id)
            .outerjoin(decider, decider.id == Compensation.decided_by_id)
            .outerjoin(issuer, issuer.id == Compensation.issued_by_id))
    # The very conditions of the breach review page (crm.compensations.services).
    stmt = compensation_filters(stmt, status=f["status"], customer_id=f["customer_id"], team_id=f["team_id"],
                                moment_type_id=f["moment_type_id"], tier=f["tier"], since=f["since"],
                                until=f["until"])
    return stmt, Compensation.id


QUERIES = {"customers": _customers, "purchases": _purchases, "moments": _moments, "commitments": _commitments,
           "compensations": _compensations}


def keyset_batches(stmt, id_column, batch: int) -> Iterator[list[tuple]]:
    """Rows in batches by ascending id, one query per batch; the id column is left out."""
    last = 0
    while True:
        # On the session's connection (its transaction), without the ORM's row processing.
        rows = db.session.connection().execute(stmt.where(id_column > last).order_by(id_column).limit(batch)).all()
        if not rows:
            return
        last = rows[-1][0]
        yield [tuple(row)[1:] for row in rows]
        if len(rows) < batch:
            return


@dataclass
class Export:
    entity: str
    filters: dict
    columns: list[Column] = field(init=False)

    def __post_init__(self):
        self.columns = COLUMNS[self.entity]

    def batches(self, batch: int | None = None) -> Iterator[list[tuple]]:
        stmt, id_column = QUERIES[self.entity](self.filters)
        return keyset_batches(stmt, id_column, batch or BATCH)

    def chunks(self, form: CsvForm = PLAIN, batch: int | None = None) -> Iterator[bytes]:
        """The file, as bytes: the header, then one chunk per batch."""
        return encode_rows(self.columns, self.batches(batch), form)


def prepare_export(actor: User | None, entity: str, args, now: datetime, *, zone: str,
                   form: CsvForm = PLAIN, via: str = "web") -> Export:
    """Clean the filters (ValidationFailed names every bad one) and record who exported
    what; the rows are read when the returned export is iterated. `actor` None is the
    operator at the command line."""
    if entity not in ENTITIES:
        raise NotFound(N_("There is no export of that name."))
    if actor is not None and not actor.has_role("supervisor"):
        raise Forbidden(N_("Only supervisors and admins may export data."))
    filters = clean_filters(entity, args, zone)
    audit.record(actor, "export.started", entity, None, now, filters=describe(filters), form=form.name, via=via)
    db.session.flush()
    return Export(entity, filters)
