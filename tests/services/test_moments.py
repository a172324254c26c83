"""Logging moments of truth and keeping the commitments they create."""
from datetime import timedelta
from decimal import Decimal

import pytest

from crm.auth.models import User
from crm.customers.models import Customer
from crm.customers.services import create_customer
from crm.domain import Conflict, ValidationFailed
from crm.extensions import db
from crm.moments import services
from crm.moments.catalog import save_moment_type
from crm.moments.models import Commitment, Moment


@pytest.fixture
def actor(ctx, agent):
    return db.session.get(User, agent.id)


def log(actor, now, **data):
    return services.log_moment(actor, data, now)


class TestLogMoment:
    def test_three_fields_are_enough_and_the_rest_defaults(self, actor, now, customer, moment_type):
        moment = log(actor, now, customer_id=customer, moment_type="complaint", notes="Ruido en el pedalier")
        assert moment.channel == "phone"  # the type's channel
        assert moment.staff_id == actor.id
        assert moment.cost == Decimal("18.00")
        assert moment.occurred_at == now
        assert moment.outcome == "pending" and moment.emotion is None
        assert moment.incident_id == moment.id

    def test_commitments_follow_the_tier_service_level(self, actor, now, customer, moment_type):
        db.session.get(Customer, customer).tier = "premium"
        moment = log(actor, now, customer_id=customer, moment_type=moment_type)  # by id works too
        due = {c.kind: c.due_at for c in moment.commitments}
        assert due == {"first_response": now + timedelta(hours=1), "resolution": now + timedelta(hours=24)}
        assert {c.status for c in moment.commitments} == {"open"}
        assert {c.owner_id for c in moment.commitments} == {actor.id}

    def test_commitments_start_when_the_contact_happened(self, actor, now, customer, moment_type):
        earlier = now - timedelta(hours=3)
        moment = log(actor, now, customer_id=customer, moment_type="complaint", occurred_at=earlier)
        first = next(c for c in moment.commitments if c.kind == "first_response")
        assert (first.starts_at, first.due_at) == (earlier, earlier + timedelta(hours=4))

    def test_a_tier_without_service_level_makes_no_commitment(self, actor, now, customer, admin):
        save_moment_type(db.session.get(User, admin.id), None, {
            "code": "visit", "name": "Visita", "phase": "discover", "channel": "in_person",
            "service_levels": [{"tier": "premium", "first_response_hours": 2}]}, now)
        assert log(actor, now, customer_id=customer, moment_type="visit").commitments == []

    def test_resolved_on_the_spot_keeps_the_promises_at_once(self, actor, now, customer, moment_type):
        moment = log(actor, now, customer_id=customer, moment_type="complaint", outcome="resolved", emotion=2)
        assert {(c.status, c.met_at) for c in moment.commitments} == {("met", now)}

    def test_a_follow_up_joins_the_incident_and_answers_it(self, actor, now, customer, moment_type):
        first = log(actor, now, customer_id=customer, moment_type="complaint")
        later = now + timedelta(hours=2)
        second = log(actor, later, customer_id=customer, moment_type="complaint", follows_moment_id=first.id)
        assert (second.follows_moment_id, second.incident_id) == (first.id, first.id)
        assert second.commitments == []
        status = {c.kind: (c.status, c.met_at) for c in first.commitments}
        assert status == {"first_response": ("met", later), "resolution": ("open", None)}
        third = log(actor, later + timedelta(days=1), customer_id=customer, moment_type="complaint",
                    follows_moment_id=second.id, outcome="resolved")
        assert third.incident_id == first.id
        db.session.refresh(first.commitments[1])
        assert {c.status for c in first.commitments} == {"met"}

    def test_follow_up_must_be_the_same_customer(self, actor, now, customer, moment_type):
        other = create_customer(actor, {"name": "Otro"}, now)
        first = log(actor, now, customer_id=other.id, moment_type="complaint")
        with pytest.raises(ValidationFailed) as err:
            log(actor, now, customer_id=customer, moment_type="complaint", follows_moment_id=first.id)
        assert list(err.value.fields) == ["follows_moment_id"]

    @pytest.mark.parametrize("data, fields", [
        ({}, {"customer_id", "moment_type"}),
        ({"customer_id": 10**30, "moment_type": "nope"}, {"customer_id", "moment_type"}),
        ({"emotion": 3}, {"emotion"}),
        ({"emotion": True}, {"emotion"}),
        ({"channel": "telepathy", "outcome": "maybe"}, {"channel", "outcome"}),
        ({"notes": "x" * 5001}, {"notes"}),
        ({"notes": "nul\x00"}, {"notes"}),
        ({"cost": "-1"}, {"cost"}),
        ({"cost": "NaN"}, {"cost"}),
        ({"staff_id": 987654}, {"staff_id"}),
        ({"follows_moment_id": 987654}, {"follows_moment_id"}),
    ])
    def test_bad_input_writes_nothing(self, actor, now, customer, moment_type, data, fields):
        base = {"customer_id": customer, "moment_type": "complaint"}
        base.update(data)
        if data == {}:
            base = {}
        with pytest.raises(ValidationFailed) as err:
            services.log_moment(actor, base, now)
        assert set(err.value.fields) == fields
        db.session.rollback()
        assert db.session.query(Moment).count() == 0 and db.session.query(Commitment).count() == 0

    def test_time_must_be_aware_and_not_in_the_future(self, actor, now, customer, moment_type):
        from datetime import datetime

        for when in (datetime(2026, 11, 23, 9, 0), now + timedelta(hours=1), now.replace(year=1999)):
            with pytest.raises(ValidationFailed) as err:
                log(actor, now, customer_id=customer, moment_type="complaint", occurred_at=when)
            assert list(err.value.fields) == ["occurred_at"]

    def test_retired_types_cannot_be_logged(self, actor, now, customer, moment_type, admin):
        from crm.moments.catalog import get_moment_type

        save_moment_type(db.session.get(User, admin.id), get_moment_type("complaint"), {"active": False}, now)
        with pytest.raises(ValidationFailed) as err:
            log(actor, now, customer_id=customer, moment_type="complaint")
        assert list(err.value.fields) == ["moment_type"]


class TestCommitments:
    def test_mark_met_once(self, actor, now, customer, moment_type):
        moment = log(actor, now, customer_id=customer, moment_type="complaint")
        commitment = moment.commitments[0]
        services.mark_met(actor, commitment, now + timedelta(minutes=30))
        assert (commitment.status, commitment.met_at, commitment.met_by_id) == (
            "met", now + timedelta(minutes=30), actor.id)
        with pytest.raises(Conflict):
            services.mark_met(actor, commitment, now + timedelta(hours=1))

    def test_queue_is_ordered_by_deadline_with_overdue_first(self, actor, now, customer, moment_type, make_user):
        other = make_user("agent")
        old = log(actor, now, customer_id=customer, moment_type="complaint", occurred_at=now - timedelta(hours=6))
        new = log(db.session.get(User, other.id), now, customer_id=customer, moment_type="complaint")
        queue = services.open_commitments()
        dues = [c.due_at for c in queue.items]
        assert dues == sorted(dues) and queue.total == 4
        assert queue.items[0].moment_id == old.id and queue.items[0].is_overdue(now)
        mine = services.open_commitments(owner_id=actor.id)
        assert {c.moment_id for c in mine.items} == {old.id}
        theirs = services.open_commitments(owner_id=other.id)
        assert {c.moment_id for c in theirs.items} == {new.id}

    def test_list_filters_and_validates_status(self, actor, now, customer, moment_type):
        moment = log(actor, now, customer_id=customer, moment_type="complaint")
        services.mark_met(actor, moment.commitments[0], now)
        assert services.list_commitments(status="met").total == 1
        assert services.list_commitments(status="open", customer_id=customer).total == 1
        with pytest.raises(ValidationFailed):
            services.list_commitments(status="lost")

    def test_one_click_emotion(self, actor, now, customer, moment_type):
        moment = log(actor, now, customer_id=customer, moment_type="complaint")
        services.set_emotion(actor, moment, "-2", now)
        assert moment.emotion == -2
        with pytest.raises(ValidationFailed):
            services.set_emotion(actor, moment, "5", now)
        # What int() refuses although str.isdigit() says yes, or a sign twice: refused, not a crash.
        for bad in ("²", "+-1", "-+2", "1" * 5000):
            with pytest.raises(ValidationFailed):
                services.set_emotion(actor, moment, bad, now)
        assert moment.emotion == -2
        services.set_emotion(actor, moment, " +1 ", now)
        assert moment.emotion == 1


def test_a_moment_type_code_with_a_nul_byte_is_simply_unknown(ctx):
    """PostgreSQL would refuse the query itself; the answer must be a 404-type error on both engines."""
    from crm.domain import NotFound
    from crm.moments.catalog import get_moment_type

    with pytest.raises(NotFound):
        get_moment_type("complaint\x00")


def test_an_incidents_resolution_is_kept_on_its_first_contact_and_the_backfill_agrees(app, ctx, agent, customer,
                                                                                     moment_type, now):
    """log_moment keeps when an incident was first resolved and by which contact; the bulk
    backfill (migration and demo loads) derives the same from the contacts alone."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from crm.auth.models import User
    from crm.extensions import db
    from crm.moments.models import Moment
    from crm.moments.services import backfill_resolutions, log_moment

    actor = db.session.get(User, agent.id)

    def log(when, outcome="pending", follows=None):
        return log_moment(actor, {"customer_id": customer, "moment_type": "complaint", "outcome": outcome,
                                  "occurred_at": now - timedelta(hours=when), "follows_moment_id": follows}, now)

    on_the_spot = log(50, "resolved")
    second = log(40)
    log(39, follows=second.id)
    third_resolves = log(30)
    log(29, follows=third_resolves.id)
    log(28, "resolved", follows=third_resolves.id)
    # A contact logged late but dated before the resolving one moves it to third place.
    late = log(20)
    log(10, "resolved", follows=late.id)
    log(15, follows=late.id)
    never = log(5)
    db.session.flush()
    kept = {m.id: (m.resolved_at, m.resolved_contact) for m in db.session.scalars(
        select(Moment).where(Moment.id == Moment.incident_id).execution_options(populate_existing=True))}
    assert kept[on_the_spot.id] == (now - timedelta(hours=50), 1)
    assert kept[second.id] == (None, None)
    assert kept[third_resolves.id] == (now - timedelta(hours=28), 3)
    assert kept[late.id] == (now - timedelta(hours=10), 3)
    assert kept[never.id] == (None, None)
    db.session.execute(update(Moment).values(resolved_at=None, resolved_contact=None))
    backfill_resolutions()
    again = {m.id: (m.resolved_at, m.resolved_contact) for m in db.session.scalars(
        select(Moment).where(Moment.id == Moment.incident_id).execution_options(populate_existing=True))}
    assert again == kept
