"""Writing one batch of checked rows: find what exists, then bulk inserts and updates.

Per batch there is one query for the customers the rows name (by email, and by phone
key) and, for purchases and contacts, one for the import keys already stored; new rows
go in with one statement per table (crm.bulk). Nothing commits here: the caller
commits at the batch boundary. Core statements skip the ORM's flush hook, so the
rollup's days are marked explicitly (crm.insights.rollup.marking).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from operator import itemgetter

from sqlalchemy import (
    Integer,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from crm.bulk import insert_returning_ids, insert_rows, nothing, prepare_returning_ids, session_dialect
from crm.customers import search, search_index
from crm.customers.lifecycle import DEFAULT_TIER
from crm.customers.models import Customer, Purchase, StageChange
from crm.customers.search import phone_key
from crm.domain import N_, DomainError
from crm.extensions import db
from crm.imports.rows import digest
from crm.insights.rollup.days import company_zone, days_of
from crm.insights.rollup.marking import mark_customers, mark_days_in_session, mark_instants
from crm.moments.models import Moment
from crm.types import UTCDateTime

CUSTOMER_COLUMNS = ("name", "email", "phone", "company", "segment", "stage", "loyalty", "tier", "language",
                    "marketing_consent", "owner_id", "renewal_date")
NEW_CUSTOMER = {"email": None, "phone": None, "company": None, "segment": None, "stage": "prospect",
                "loyalty": "occasional", "tier": DEFAULT_TIER, "language": "es", "marketing_consent": False,
                "renewal_date": None}
SEARCHED = {"name", "company", "email", "phone"}
IMPORTED = "imported"  # the reason on stage changes an import makes


@dataclass
class Item:
    line: int
    cells: list[str]
    record: dict


@dataclass
class Creation:
    """A batch's new customers as statements worked out before they run: what an import's
    reading thread prepares, while the database writes the batch before."""

    count: int
    insert_customers: Callable[[], list[int]]  # their new ids, in the batch's order
    index_terms: Callable[[list[int]], None]
    days: set[date]  # the local days their creation marks for the rollup


@dataclass
class Prepared:
    """What the writer needs of a batch besides its rows, worked out in the reading thread."""

    refs: list[tuple[str | None, str | None]]  # each row's (email, phone key)
    names: set[str]  # the sort keys of rows with neither email nor phone
    creation: Creation | None = None  # when every row of the batch may be a new customer


def _keys(customers: list[dict]) -> tuple[list[str], list[str | None], list[str]]:
    """The sort keys, phone keys and search terms of these customers (or rows' records)."""
    return search.keys_of_many([c["name"] for c in customers], [c.get("company") for c in customers],
                               [c.get("email") for c in customers], [c.get("phone") for c in customers])


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[Item, dict[str, DomainError]]] = field(default_factory=list)


class CustomerIndex:
    """The customers a batch names, found by email first, else by phone."""

    def __init__(self):
        self.by_email: dict[str, dict] = {}
        self.by_phone: dict[str, list[dict]] = {}
        self.by_name: dict[str, dict] = {}  # customers with neither email nor phone
        self.stored: list[dict] = []  # those found in the database (find_customers)

    def add(self, customer: dict, key: str | None = "") -> None:
        """Index `customer`; `key` is its phone key when already known ("" when not)."""
        if customer.get("email"):
            self.by_email.setdefault(customer["email"], customer)
        if key == "":
            key = phone_key(customer.get("phone"))
        if key:
            self.by_phone.setdefault(key, []).append(customer)
        if not customer.get("email") and not key and customer.get("name"):
            self.by_name.setdefault(search.sort_key(customer["name"]), customer)

    def match(self, email: str | None, key: str | None, name: str | None = None) -> dict | None:
        """By email; else by phone, unless the row's email says it is someone else sharing
        that phone (a company's switchboard): a customer with another email is not them.
        A row with neither finds a customer with neither by name, so its file imports twice
        without doubling them."""
        if not email and not key:
            customer = self.by_name.get(search.sort_key(name)) if name else None
            return customer if customer and not customer.get("email") and not customer.get("phone") else None
        if email and email in self.by_email:
            return self.by_email[email]
        for customer in self.by_phone.get(key, ()) if key else ():
            if not email or not customer.get("email") or customer["email"] == email:
                return customer
        return None


LOOKUP_CHUNK = 5000  # values per IN list: far below every engine's limit on parameters


def find_customers(refs: list[tuple[str | None, str | None]], columns=("id", "email", "phone"),
                   names: set[str] = frozenset()) -> CustomerIndex:
    """The (not erased) customers that rows name by (email, phone key), or without either
    by name, oldest first. By email first; phone keys are looked up only for the rows
    whose email found no one, as `CustomerIndex.match` would use them. A query per kind
    of key and chunk of values, each compiled once (expanding parameters)."""
    table = Customer.__table__
    connection = db.session.connection()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        # One array parameter: thousands of placeholders cost the driver more than the query.
        values = any_(bindparam("values", type_=ARRAY(String)))
        in_ = lambda column: column == values  # noqa: E731
    else:
        # One JSON array parameter, unpacked by SQLite's json_each: an expanding IN list would
        # render and bind thousands of placeholders per query.
        values = select(func.json_each(bindparam("values", type_=String)).table_valued("value").c.value)
        in_ = lambda column: column.in_(values.scalar_subquery())  # noqa: E731
    selected = (*columns, "_id")
    found: dict[int, dict] = {}

    def fetch(condition, wanted) -> None:
        wanted = sorted(wanted)
        stmt = select(*(table.c[name] for name in columns), table.c.id).where(table.c.erased_at.is_(None), condition)
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start:start + LOOKUP_CHUNK]
            for row in connection.execute(stmt, {"values": chunk if postgres else json.dumps(chunk)}):
                if row[-1] not in found:
                    customer = dict(zip(selected, row, strict=True))
                    found[customer.pop("_id")] = customer

    emails = {email for email, _ in refs if email}
    if emails:
        fetch(in_(table.c.email), emails)
    known = {c["email"] for c in found.values()} if "email" in columns else set()
    keys = {key for email, key in refs if key and (not email or email not in known)}
    if keys:
        fetch(in_(table.c.phone_key), keys)
    if names:
        fetch(and_(in_(table.c.sort_name), table.c.email.is_(None), table.c.phone.is_(None)), names)
    index = CustomerIndex()
    index.stored = [customer for _id, customer in sorted(found.items())]
    for customer in index.stored:
        index.add(customer)
    return index


def among(column, ids: list[int]):
    """`column` is one of these ids: a range when they are consecutive (as a batch's new
    rows are), so the condition has two parameters however large the batch."""
    ids = sorted(ids)
    if ids and ids[-1] - ids[0] + 1 == len(ids):
        return column.between(ids[0], ids[-1])
    return column.in_(ids)


class CustomerWriter:
    """Creates customers the file has and the database has not; updates the others."""

    def __init__(self, actor_id: int | None, now: datetime, dry_run: bool):
        self.actor_id, self.now, self.dry_run = actor_id, now, dry_run
        self.writing = nothing  # called as the batch's statements begin (the import reads ahead then)
        # A dry run writes nothing, so customers it would create in one batch are not found by
        # the next batch's query: remember them (a digest per email and phone, not the rows).
        self.would_create: dict[str, bytes] = {}
        # Read here, in the thread that writes: preparing in the reading thread asks no session.
        self.dialect, self.zone = session_dialect(), company_zone()
        self.new_customer = {**NEW_CUSTOMER, "owner_id": actor_id, "created_at": now}
        # Whether the last batch written created all its rows: the next one is then
        # prepared as new customers too (a file of new customers), else not (a re-run).
        self.all_created = True

    def prepare_batch(self, items: list[Item]) -> Prepared:
        """Run in the reading thread once a batch is read (of the writer's state it reads
        only `all_created`, a guess): the keys to look its customers up by and, when the
        batch may well be all new customers (its rows name one another by no email, phone
        or name; the last batch written created all its rows), their statements. Whether
        they are new only the database can tell: `write` decides."""
        records = [i.record for i in items]
        sort_keys, phone_keys, texts = _keys(records)
        emails = [r.get("email") for r in records]
        refs = list(zip(emails, phone_keys, strict=True))
        by_name = [sort for sort, (email, key) in zip(sort_keys, refs, strict=True) if not email and not key]
        prepared = Prepared(refs, set(by_name))
        if self.dry_run or not items or not self.all_created:
            return prepared
        given_emails = [email for email in emails if email]
        given_keys = [key for key in phone_keys if key]
        if (len(set(given_emails)) == len(given_emails) and len(set(given_keys)) == len(given_keys)
                and len(prepared.names) == len(by_name)):
            base = self.new_customer
            prepared.creation = self._creation([base | r for r in records], (sort_keys, phone_keys, texts))
        return prepared

    def write(self, items: list[Item], prepared: Prepared | None = None) -> BatchResult:
        result = BatchResult()
        prepared = prepared or self.prepare_batch(items)
        refs = prepared.refs
        index = find_customers(refs, ("id", *CUSTOMER_COLUMNS), prepared.names)
        if prepared.creation is not None and not index.stored:
            # None of them is stored, and none names another: every row is a new customer.
            self._create(prepared.creation)
            self.all_created = True
            return BatchResult(created=len(items))
        for customer in index.stored:
            customer["_was"] = dict(customer)
        created: list[dict] = []
        for item, (email, key) in zip(items, refs, strict=True):
            record = item.record
            target = index.match(email, key, record["name"])
            if target is None and self.dry_run and self._seen_in_dry_run(record, email, key, result):
                continue
            if target is None:
                target = {**self.new_customer, "id": None}
                target.update(record)
                target["_record"] = record
                created.append(target)
                index.add(target, key)
                result.created += 1
                continue
            changed = {k: v for k, v in record.items() if k != "created_at" and target.get(k) != v}
            if "phone" in changed and phone_key(changed["phone"]) == phone_key(target.get("phone")):
                del changed["phone"]  # the same phone written another way: keep how it was written
            if changed:
                target.update(changed)
                target["_record"] = record
                index.add(target)  # a new email or phone finds it for the rows that follow
                result.updated += 1
            else:
                result.unchanged += 1
        self.all_created = result.created == len(items)
        if self.dry_run:
            for customer in created:
                self._remember(customer)
            return result
        updated = [c for c in index.stored if _diff(c)]  # the batch's new customers are in `created`
        if created:
            ids = self._create(self._creation(created, _keys(created)))
            for customer, new_id in zip(created, ids, strict=True):
                customer["id"] = new_id
        self.writing()  # if _create did not: nothing was created
        self._update(updated)
        return result

    def _seen_in_dry_run(self, record, email, key, result) -> bool:
        seen = self.would_create.get(f"e:{email}") if email else None
        seen = seen or (self.would_create.get(f"p:{key}") if key else None)
        if not email and not key:
            seen = self.would_create.get(f"n:{search.sort_key(record['name'])}")
        if seen is None:
            return False
        if seen == _record_digest(record):
            result.unchanged += 1
        else:
            result.updated += 1
        return True

    def _remember(self, customer: dict) -> None:
        mark = _record_digest(customer["_record"])  # the last row that made or changed it
        if customer.get("email"):
            self.would_create[f"e:{customer['email']}"] = mark
        if key := phone_key(customer.get("phone")):
            self.would_create[f"p:{key}"] = mark
        if not customer.get("email") and not customer.get("phone"):
            self.would_create[f"n:{search.sort_key(customer['name'])}"] = mark

    def _creation(self, customers: list[dict], keys: tuple[list[str], list[str | None], list[str]]) -> Creation:
        """The statements creating these customers (new customer dicts, and `_keys` of them)."""
        sort_keys, phone_keys, texts = keys
        columns = (*CUSTOMER_COLUMNS, "created_at", "phone_key", "sort_name", "updated_at")
        values, now = itemgetter(*CUSTOMER_COLUMNS, "created_at"), self.now
        rows = [(*values(c), key, sort, now) for c, key, sort in zip(customers, phone_keys, sort_keys, strict=True)]
        return Creation(len(rows), prepare_returning_ids(Customer.__table__, columns, rows, self.dialect),
                        search_index.prepare(texts, self.dialect),
                        days_of({c["created_at"] for c in customers}, self.zone))

    def _create(self, creation: Creation) -> list[int]:
        """Run a creation's statements; the new customers' ids."""
        mark_days_in_session(creation.days)
        # Everything Python is done: from here on the database works and the next batch is read.
        self.writing()
        ids = creation.insert_customers()
        creation.index_terms(ids)
        # Their first stage change, as the customer service writes it: one INSERT … SELECT.
        table = Customer.__table__
        db.session.execute(insert(StageChange.__table__).from_select(
            ["customer_id", "from_stage", "to_stage", "at", "user_id", "rule", "reason"],
            select(table.c.id, null(), table.c.stage, table.c.created_at,
                   null() if self.actor_id is None else literal(self.actor_id, Integer), null(),
                   literal(IMPORTED, Text)).where(among(table.c.id, ids)).order_by(table.c.id)))
        return ids

    def _update(self, updated: list[dict]) -> None:
        if not updated:
            return
        rows, moves, reindex, regrouped = [], [], [], []
        for customer in updated:
            diff = _diff(customer)
            row = {"id": customer["id"], **diff, "updated_at": self.now}
            if "name" in diff:
                row["sort_name"] = search.sort_key(customer["name"])
            if "phone" in diff:
                row["phone_key"] = phone_key(customer["phone"])
            rows.append(row)
            if "stage" in diff:
                moves.append({"customer_id": customer["id"], "from_stage": customer["_was"]["stage"],
                              "to_stage": customer["stage"], "at": self.now, "user_id": self.actor_id,
                              "rule": None, "reason": IMPORTED})
            if diff.keys() & SEARCHED:
                reindex.append(customer)
            if diff.keys() & {"segment", "tier"}:
                regrouped.append(customer["id"])
        # Their figures move between the rollup's segment and tier rows: mark before the change.
        mark_customers(regrouped)
        db.session.execute(update(Customer), rows)  # by primary key, grouped by the columns given
        if moves:
            db.session.execute(insert(StageChange.__table__), moves)
            mark_instants({self.now})
        search_index.replace([(c["id"], text.split()) for c, text in zip(reindex, _keys(reindex)[2], strict=True)])


def _diff(customer: dict) -> dict:
    was = customer["_was"]
    return {k: customer[k] for k in CUSTOMER_COLUMNS if customer[k] != was[k]}


def _record_digest(record: dict) -> bytes:
    return hashlib.blake2b(repr(sorted(record.items())).encode(), digest_size=8).digest()


def _refs_of(items: list[Item]) -> CustomerIndex:
    return find_customers([(i.record["email"], i.record["phone"]) for i in items])


def _no_customer(item: Item) -> dict[str, DomainError]:
    name = "customer_email" if item.record["email"] else "customer_phone"
    return {name: DomainError(N_("no such customer"), name)}


def _existing_keys(model, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(db.session.scalars(select(model.import_key).where(model.import_key.in_(keys))))


def _move_activity(latest: dict[int, datetime]) -> None:
    """Move each customer's last activity forward to `at`, never back (one executemany)."""
    if not latest:
        return
    table = Customer.__table__
    at = bindparam("at", type_=UTCDateTime())
    db.session.execute(
        update(table).where(table.c.id == bindparam("cid"),
                            or_(table.c.last_activity_at.is_(None), table.c.last_activity_at < at))
        .values(last_activity_at=at),
        [{"cid": cid, "at": when} for cid, when in sorted(latest.items())])


class HistoryWriter:
    """Purchases and contacts: stored once per content (the import key), never updated."""

    model = None

    def __init__(self, actor_id: int | None, now: datetime, dry_run: bool):
        self.actor_id, self.now, self.dry_run = actor_id, now, dry_run
        self.would_create: set[str] = set()  # dry runs only: keys earlier batches would insert
        self.writing = nothing  # called as the batch's statements begin (the import reads ahead then)

    def prepare_batch(self, items: list[Item]) -> None:
        return None

    def write(self, items: list[Item], prepared: None = None) -> BatchResult:
        result = BatchResult()
        index = _refs_of(items)
        keyed: list[tuple[Item, int, str]] = []
        for item in items:
            customer = index.match(item.record["email"], item.record["phone"])
            if customer is None:
                result.rejected.append((item, _no_customer(item)))
                continue
            keyed.append((item, customer["id"], self.key(item.record, customer["id"])))
        known = _existing_keys(self.model, [k for _, _, k in keyed]) | self.would_create
        new: list[tuple[dict, int, str]] = []
        for item, customer_id, key in keyed:
            if key in known:
                result.unchanged += 1
                continue
            known.add(key)
            new.append((item.record, customer_id, key))
            result.created += 1
        if self.dry_run:
            self.would_create.update(k for _, _, k in new)
        elif new:
            self.writing()
            self.insert(new)
        return result


class PurchaseWriter(HistoryWriter):
    model = Purchase

    def key(self, r: dict, customer_id: int) -> str:
        return digest("purchase", customer_id, r["purchased_on"].isoformat(), r["amount"], r["currency"],
                      r["description"])

    def insert(self, new) -> None:
        insert_rows(Purchase.__table__, ("customer_id", "amount", "currency", "purchased_on", "description",
                                         "created_by_id", "created_at", "import_key"),
                    [(cid, r["amount"], r["currency"], r["purchased_on"], r["description"], self.actor_id, self.now,
                      key) for r, cid, key in new])
        # A purchase is activity on its day (as crm.customers.purchases records it).
        latest: dict[int, datetime] = {}
        for r, cid, _ in new:
            at = min(datetime.combine(r["purchased_on"], time.min, tzinfo=timezone.utc), self.now)
            if cid not in latest or latest[cid] < at:
                latest[cid] = at
        _move_activity(latest)
        mark_instants({r["purchased_on"] for r, _, _ in new})


class MomentWriter(HistoryWriter):
    """Imported contacts are history: each is its own incident and makes no commitments
    and sends no follow-ups."""

    model = Moment

    def key(self, r: dict, customer_id: int) -> str:
        return digest("moment", customer_id, r["type_id"], r["occurred_at"].isoformat(), r["channel"],
                      r["staff_id"], r["emotion"], r["outcome"], r["cost"], r["notes"])

    def insert(self, new) -> None:
        table = Moment.__table__
        ids = insert_returning_ids(table, (
            "customer_id", "moment_type_id", "channel", "staff_id", "occurred_at", "emotion", "notes", "cost",
            "outcome", "created_at", "import_key"), [
            (cid, r["type_id"], r["channel"], r["staff_id"] or self.actor_id, r["occurred_at"], r["emotion"],
             r["notes"], r["cost"], r["outcome"], self.now, key) for r, cid, key in new])
        resolved = table.c.outcome == "resolved"
        db.session.execute(update(table).where(among(table.c.id, ids)).values(
            incident_id=table.c.id,
            resolved_at=case((resolved, table.c.occurred_at), else_=None),
            resolved_contact=case((resolved, 1), else_=None)))
        latest: dict[int, datetime] = {}
        for r, cid, _ in new:
            if cid not in latest or latest[cid] < r["occurred_at"]:
                latest[cid] = r["occurred_at"]
        _move_activity(latest)
        mark_instants({r["occurred_at"] for r, _, _ in new})


WRITERS = {"customers": CustomerWriter, "purchases": PurchaseWriter, "moments": MomentWriter}
