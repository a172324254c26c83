"""Commitments on a business calendar: deadlines, warnings, pause and resume."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.auth.models import User
from crm.calendars.services import save_calendar
from crm.domain import Conflict, ValidationFailed
from crm.extensions import db
from crm.moments import services
from crm.moments.catalog import get_moment_type, save_moment_type

MADRID = ZoneInfo("Europe/Madrid")
SHOP = {"name": "Tienda", "timezone": "Europe/Madrid", "country": "ES", "subdivision": "MD",
        "hours": {str(d): [["09:00", "14:00"], ["16:00", "19:00"]] for d in range(5)},
        "closures": ["2026-12-24"], "is_default": True}


def madrid(*args):
    return datetime(*args, tzinfo=MADRID)


@pytest.fixture
def actors(ctx, agent, admin):
    return db.session.get(User, agent.id), db.session.get(User, admin.id)


@pytest.fixture
def shop(actors, now):
    calendar = save_calendar(actors[1], None, SHOP, now)
    db.session.commit()  # other fixtures write from their own contexts
    return calendar


def log(actor, customer, when):
    return services.log_moment(actor, {"customer_id": customer, "moment_type": "complaint",
                                       "occurred_at": when}, when)


class TestDeadlines:
    def test_due_in_business_time_on_the_default_calendar(self, actors, shop, customer, moment_type):
        # Friday 18:00: 4 working hours = 1 on Friday + 3 on Monday morning.
        moment = log(actors[0], customer, madrid(2026, 11, 20, 18, 0))
        due = {c.kind: c.due_at for c in moment.commitments}
        assert due["first_response"] == madrid(2026, 11, 23, 12, 0)
        first = next(c for c in moment.commitments if c.kind == "first_response")
        assert first.warn_at == madrid(2026, 11, 23, 11, 0)  # 75% of 4 h = 3 h
        assert first.calendar_id == shop.id

    def test_a_type_can_name_its_own_calendar(self, actors, shop, customer, moment_type, now):
        always = save_calendar(actors[1], None, {"name": "24/7", "timezone": "UTC",
                                                 "hours": {str(d): [["00:00", "24:00"]] for d in range(7)}}, now)
        save_moment_type(actors[1], get_moment_type("complaint"), {"calendar_id": always.id, "warn_ratio": "0.5"},
                         now)
        start = madrid(2026, 11, 20, 18, 0)
        first = next(c for c in log(actors[0], customer, start).commitments if c.kind == "first_response")
        assert first.due_at == start + timedelta(hours=4) and first.warn_at == start + timedelta(hours=2)

    def test_without_calendars_deadlines_run_in_clock_time(self, actors, customer, moment_type):
        start = madrid(2026, 11, 21, 23, 0)  # a Saturday night
        first = next(c for c in log(actors[0], customer, start).commitments if c.kind == "first_response")
        assert first.due_at == start + timedelta(hours=4) and first.calendar_id is None


class TestPause:
    def test_paused_time_does_not_count(self, actors, shop, customer, moment_type):
        moment = log(actors[0], customer, madrid(2026, 11, 23, 9, 0))  # Monday 09:00, due 13:00
        first = next(c for c in moment.commitments if c.kind == "first_response")
        services.pause_commitment(actors[0], first, madrid(2026, 11, 23, 10, 0))
        assert first.status == "paused" and first.remaining_seconds == 3 * 3600
        # Waiting on the customer until Tuesday 17:00: three working hours remain.
        services.resume_commitment(actors[0], first, madrid(2026, 11, 24, 17, 0))
        assert first.status == "open" and first.paused_at is None
        assert first.due_at == madrid(2026, 11, 25, 10, 0)  # 17–19 Tue, then 09–10 Wed
        # The warning was 2 working hours away when paused: Tuesday's closing time.
        assert first.warn_at == madrid(2026, 11, 24, 19, 0)

    def test_bad_transitions_change_nothing(self, actors, shop, customer, moment_type):
        moment = log(actors[0], customer, madrid(2026, 11, 23, 9, 0))
        first = next(c for c in moment.commitments if c.kind == "first_response")
        with pytest.raises(Conflict):
            services.resume_commitment(actors[0], first, madrid(2026, 11, 23, 10, 0))
        with pytest.raises(Conflict):  # past due: too late to pause
            services.pause_commitment(actors[0], first, madrid(2026, 11, 23, 15, 0))
        services.mark_met(actors[0], first, madrid(2026, 11, 23, 10, 0))
        with pytest.raises(Conflict):
            services.pause_commitment(actors[0], first, madrid(2026, 11, 23, 10, 30))
        assert first.status == "met"


class TestCalendarAdmin:
    @pytest.mark.parametrize("change, field", [
        ({"hours": {"0": [["10:00", "09:00"]]}}, "hours"),
        ({"hours": {"0": [["09:00", "14:00"], ["13:00", "15:00"]]}}, "hours"),
        ({"hours": {"8": [["09:00", "14:00"]]}}, "hours"),
        ({"hours": {}}, "hours"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"country": "XX"}, "country"),
        ({"country": None, "subdivision": "MD"}, "country"),
        ({"closures": ["24/12/2026"]}, "closures"),
        ({"name": ""}, "name"),
    ])
    def test_bad_calendars_are_refused_with_the_field(self, actors, now, change, field):
        with pytest.raises(ValidationFailed) as err:
            save_calendar(actors[1], None, {**SHOP, **change}, now)
        assert field in err.value.fields

    def test_only_one_default(self, actors, shop, now):
        other = save_calendar(actors[1], None, {**SHOP, "name": "Otra"}, now)
        db.session.refresh(shop)
        assert other.is_default and not shop.is_default

    def test_agents_cannot(self, actors, now):
        from crm.domain import Forbidden

        with pytest.raises(Forbidden):
            save_calendar(actors[0], None, SHOP, now)
