"""Marking the days a write changes, in the writing transaction."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session, attributes

from crm.compensations.models import Compensation
from crm.customers.models import Customer, Purchase, StageChange
from crm.extensions import db
from crm.followups.models import SurveyResponse
from crm.insights.rollup.days import company_zone, days_of
from crm.insights.rollup.models import RollupDay, RollupDirty
from crm.moments.models import Commitment, Moment

MARK_ALL_ABOVE = 2000  # customers changed at once beyond which every built day is marked


def mark_days(connection, days: Iterable[date]) -> None:
    """Insert one marker per day (within this transaction, once)."""
    days = sorted(set(days))
    if days:
        connection.execute(insert(RollupDirty), [{"day": d} for d in days])


def mark_instants(instants: Iterable, zone: str | None = None) -> None:
    """Mark the local days of these instants (or dates) dirty, in the current transaction."""
    mark_days_in_session(days_of(instants, zone or company_zone()))


def mark_days_in_session(days: set[date]) -> None:
    """Mark these local days dirty, in the current transaction."""
    _mark_in_session(db.session, days)


def _mark_in_session(session, days: set[date]) -> None:
    marked = session.info.setdefault("rollup_marked", set())
    new = days - marked
    if new:
        mark_days(session.connection(), new)
        marked.update(new)


def mark_moments(moment_ids: Iterable[int]) -> None:
    """Mark the days of these contacts (when they happened, when their incident was resolved)
    before a bulk UPDATE changes them."""
    ids = sorted(set(moment_ids))
    instants = []
    for start in range(0, len(ids), 500):
        for occurred, resolved in db.session.connection().execute(
                select(Moment.occurred_at, Moment.resolved_at).where(Moment.id.in_(ids[start:start + 500]))):
            instants += [occurred, resolved]
    mark_instants(instants)


def _customer_instants(session, customer_ids: list[int]) -> list:
    out = []
    for start in range(0, len(customer_ids), 500):
        ids = customer_ids[start:start + 500]
        for stmt in (select(Moment.occurred_at).where(Moment.customer_id.in_(ids)),
                     select(Moment.resolved_at).where(Moment.customer_id.in_(ids), Moment.resolved_at.is_not(None)),
                     select(Commitment.due_at).where(Commitment.customer_id.in_(ids)),
                     select(Compensation.issued_at).where(Compensation.customer_id.in_(ids),
                                                          Compensation.issued_at.is_not(None)),
                     select(SurveyResponse.answered_at).where(SurveyResponse.customer_id.in_(ids)),
                     select(Purchase.purchased_on).where(Purchase.customer_id.in_(ids)),
                     select(Customer.created_at).where(Customer.id.in_(ids)),
                     select(StageChange.at).where(StageChange.customer_id.in_(ids))):
            out.extend(session.connection().execute(stmt).scalars())
    return out


def mark_customers(customer_ids: Iterable[int], session=None, zone: str | None = None) -> None:
    """A change of these customers' segment or tier moves their figures between rollup rows:
    mark every day they have figures on (every built day, when very many changed at once)."""
    session = session or db.session
    ids = sorted(set(customer_ids))
    if not ids:
        return
    if len(ids) > MARK_ALL_ABOVE:
        session.connection().execute(insert(RollupDirty).from_select(["day"], select(RollupDay.day)))
        return
    _mark_in_session(session, days_of(_customer_instants(session, ids), zone or company_zone()))


TRACKED = {
    Moment: ("occurred_at", "resolved_at"),
    Commitment: ("due_at",),
    Compensation: ("issued_at",),
    SurveyResponse: ("answered_at",),
    Purchase: ("purchased_on",),
    Customer: ("created_at",),  # only when new: a change of segment or tier marks all their days
    StageChange: ("at",),
}


def _values(obj, names, *, with_old: bool) -> list:
    values = []
    for name in names:
        if with_old:
            history = attributes.get_history(obj, name)
            values.extend([*history.added, *history.unchanged, *history.deleted])
        else:
            values.append(getattr(obj, name, None))
    return values


def _modified(obj) -> bool:
    state = attributes.instance_state(obj)
    return any(state.attrs[key].history.has_changes() for key in state.committed_state)


@event.listens_for(Session, "before_flush")
def _collect(session, flush_context, instances) -> None:
    """Note the days this flush changes (and the customers whose segment or tier changes)."""
    if not session.info.get("rollup_enabled", True):
        return
    pending = session.info.setdefault("rollup_pending", {"values": [], "customers": set()})
    for obj in session.new:
        names = TRACKED.get(type(obj))
        if names:
            pending["values"].extend(_values(obj, names, with_old=False))
    for obj in session.deleted:
        names = TRACKED.get(type(obj))
        if names:
            pending["values"].extend(_values(obj, names, with_old=True))
    for obj in session.dirty:
        if isinstance(obj, Customer):
            if obj.id is not None and any(
                    attributes.get_history(obj, name).has_changes() for name in ("segment", "tier", "created_at")):
                pending["customers"].add(obj.id)
            continue
        names = TRACKED.get(type(obj))
        if names and _modified(obj):
            pending["values"].extend(_values(obj, names, with_old=True))


@event.listens_for(Session, "after_flush")
def _write_markers(session, flush_context) -> None:
    pending = session.info.pop("rollup_pending", None)
    if not pending or not (pending["values"] or pending["customers"]):
        return
    zone = company_zone()
    _mark_in_session(session, days_of(pending["values"], zone))
    if pending["customers"]:
        mark_customers(pending["customers"], session, zone)


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("rollup_marked", None)
        session.info.pop("rollup_pending", None)
