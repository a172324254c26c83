"""Admin pages for business calendars, compensation policies and goodwill limits."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.calendars.models import Calendar
from crm.compensations.models import CompensationPolicy, GoodwillLimit
from crm.extensions import db
from crm.moments.models import MomentType

NEW_CALENDAR = "/admin/calendars/new"
NEW_POLICY = "/admin/compensation-policies/new"
POLICIES = "/admin/compensation-policies"


def text(response) -> str:
    return response.get_data(as_text=True)


def shifts(**days) -> dict:
    """Form inputs for the hours grid: shifts(mon=[("09:00", "14:00"), ...]) → hours-0-0-start=09:00, ..."""
    order = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    data = {}
    for name, spans in days.items():
        for shift, (start, end) in enumerate(spans):
            data[f"hours-{order.index(name)}-{shift}-start"] = start
            data[f"hours-{order.index(name)}-{shift}-end"] = end
    return data


def calendar_form(**overrides) -> dict:
    data = {"name": "Oficina Madrid", "timezone": "Europe/Madrid", "country": "ES", "subdivision": "MD",
            "closures": "", **shifts(mon=[("09:00", "14:00"), ("16:00", "19:00")])}
    data.update(overrides)
    return data


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def stored_calendar(app) -> Calendar:
    with app.app_context():
        calendar = db.session.scalars(select(Calendar)).one()
        db.session.expunge(calendar)
        return calendar


class TestCalendars:
    def test_a_split_shift_calendar_through_the_form(self, app, login, admin):
        b = login(admin)
        page = text(b.get(NEW_CALENDAR))
        assert 'type="time"' in page and "Monday" in page and "Sunday" in page
        assert 'value="Europe/Madrid"' in page  # the app's zone is the default
        data = calendar_form(
            closures="24/12/2026\n2026-12-31\n\n", is_default="y",
            **shifts(mon=[("09:00", "14:00"), ("16:00", "19:00")], tue=[("16:00", "19:00"), ("9:00", "14:00")],
                     fri=[("09:00", "15:00")], sat=[("20:00", "00:00")]))
        response = b.post(NEW_CALENDAR, data, csrf_from_url=NEW_CALENDAR)
        assert response.status_code == 302 and response.headers["Location"] == "/admin/calendars"
        calendar = stored_calendar(app)
        assert calendar.hours == {"0": [["09:00", "14:00"], ["16:00", "19:00"]],
                                  "1": [["09:00", "14:00"], ["16:00", "19:00"]],
                                  "4": [["09:00", "15:00"]],
                                  "5": [["20:00", "24:00"]]}  # a shift ending at 00:00 closes at midnight
        assert calendar.closures == ["2026-12-24", "2026-12-31"]
        assert (calendar.timezone, calendar.country, calendar.subdivision) == ("Europe/Madrid", "ES", "MD")
        assert calendar.is_default

        listing = text(b.get("/admin/calendars"))
        assert "Oficina Madrid" in listing and "Spain" in listing
        assert "Mon–Tue 09:00–14:00, 16:00–19:00" in listing and "Sat 20:00–24:00" in listing

        edit = text(b.get(f"/admin/calendars/{calendar.id}"))
        assert 'name="hours-0-1-start" value="16:00"' in edit
        assert 'name="hours-5-0-end" value="00:00"' in edit  # 24:00 shown the way a time input holds it
        assert "24/12/2026\n31/12/2026" in edit

    def test_editing_keeps_the_form_and_the_store_in_step(self, app, login, admin):
        b = login(admin)
        b.post(NEW_CALENDAR, calendar_form(), csrf_from_url=NEW_CALENDAR)
        calendar_id = stored_calendar(app).id
        url = f"/admin/calendars/{calendar_id}"
        response = b.post(url, calendar_form(name="Tienda", country="", subdivision="",
                                             **{"hours-0-1-start": "", "hours-0-1-end": ""},
                                             **shifts(wed=[("10:00", "13:30")])), csrf_from_url=url)
        assert response.status_code == 302
        calendar = stored_calendar(app)
        assert calendar.name == "Tienda" and calendar.country is None and calendar.subdivision is None
        assert calendar.hours == {"0": [["09:00", "14:00"]], "2": [["10:00", "13:30"]]}

    def test_more_shifts_than_the_grid_offers_are_kept(self, app, login, admin, now):
        """A calendar written through the API may have three shifts a day; the form shows and keeps them."""
        import re

        from crm.auth.models import User
        from crm.calendars.services import save_calendar

        with app.app_context():
            save_calendar(db.session.get(User, admin.id), None, {
                "name": "Turnos", "timezone": "Europe/Madrid",
                "hours": {"2": [["08:00", "10:00"], ["12:00", "14:00"], ["18:00", "24:00"]]}}, now)
            db.session.commit()
        b = login(admin)
        url = f"/admin/calendars/{stored_calendar(app).id}"
        page = text(b.get(url))
        assert "Shift 3" in page and 'name="hours-2-2-end" value="00:00"' in page
        resent = dict(re.findall(r'name="(hours-\d-\d-(?:start|end))" value="([^"]*)"', page))
        response = b.post(url, {"name": "Turnos", "timezone": "Europe/Madrid", "country": "", "subdivision": "",
                                "closures": "", **resent}, csrf_from_url=url)
        assert response.status_code == 302
        assert stored_calendar(app).hours == {"2": [["08:00", "10:00"], ["12:00", "14:00"], ["18:00", "24:00"]]}

    def test_closures_as_spanish_users_type_them(self, app, login, admin):
        b = login(admin)
        response = b.post(NEW_CALENDAR, calendar_form(closures="6/1/2027\n19-03-2027\n24.12.26, 2027-05-01"),
                          csrf_from_url=NEW_CALENDAR)
        assert response.status_code == 302
        assert stored_calendar(app).closures == ["2026-12-24", "2027-01-06", "2027-03-19", "2027-05-01"]

    @pytest.mark.parametrize("change, field, message", [
        (shifts(mon=[("09:00", "14:00"), ("13:00", "19:00")]), "hours", "Monday: intervals overlap"),
        (shifts(thu=[("14:00", "09:00")]), "hours", "Thursday: 14:00–09:00 ends before it starts"),
        (shifts(wed=[("09:00", "")]), "hours", "Wednesday: give both the start and the end of each shift"),
        ({"hours-0-0-start": "", "hours-0-0-end": "", "hours-0-1-start": "", "hours-0-1-end": ""}, "hours",
         "no open hours at all"),
        ({"timezone": "Europe/Atlantis"}, "timezone", "unknown time zone Europe/Atlantis"),
        ({"closures": "24/12/2026\n31/02/2027"}, "closures", "31/02/2027 is not a date"),
        ({"closures": "mañana"}, "closures", "mañana is not a date"),
        ({"country": "", "subdivision": "MD"}, "country", "is required when a region is given"),
        ({"subdivision": "ZZ"}, "country", "no public holidays known"),
        ({"name": ""}, "name", "This field is required"),
    ])
    def test_errors_are_shown_next_to_their_field_and_nothing_is_written(self, app, login, admin, change,
                                                                          field, message):
        b = login(admin)
        response = b.post(NEW_CALENDAR, calendar_form(**change), csrf_from_url=NEW_CALENDAR)
        assert response.status_code == 400
        page = text(response)
        assert f'id="{field}-error"' in page
        error = page[page.index(f'id="{field}-error"'):]
        assert message in error[:error.index("</small>")]
        assert count(app, Calendar) == 0
        if field != "hours":  # what was typed comes back, so nothing has to be typed twice
            assert 'name="hours-0-1-start" value="16:00"' in page

    def test_a_duplicate_name_is_refused(self, app, login, admin):
        b = login(admin)
        assert b.post(NEW_CALENDAR, calendar_form(), csrf_from_url=NEW_CALENDAR).status_code == 302
        response = b.post(NEW_CALENDAR, calendar_form(), csrf_from_url=NEW_CALENDAR)
        assert response.status_code == 400 and "already exists" in text(response)
        assert count(app, Calendar) == 1


class TestMomentTypeCalendar:
    def form(self, **overrides) -> dict:
        return {"code": "complaint", "name": "Reclamación", "phase": "interact", "channel": "phone",
                "team_id": "0", "owner_role": "agent", "cost": "18,00", "active": "y", **overrides}

    def test_choosing_a_calendar_and_a_warning_share(self, app, login, admin, moment_type):
        b = login(admin)
        b.post(NEW_CALENDAR, calendar_form(), csrf_from_url=NEW_CALENDAR)
        calendar_id = stored_calendar(app).id
        url = f"/admin/moment-types/{moment_type}"
        page = text(b.get(url))
        assert "Company default" in page and "Oficina Madrid" in page and 'name="warn_share"' in page
        assert 'value="75"' in page

        assert b.post(url, self.form(calendar_id=str(calendar_id), warn_share="60"),
                      csrf_from_url=url).status_code == 302
        with app.app_context():
            stored = db.session.get(MomentType, moment_type)
            assert stored.calendar_id == calendar_id and stored.warn_ratio == Decimal("0.60")
        page = text(b.get(url))
        assert f'<option value="{calendar_id}" selected>' in page and 'value="60"' in page

        assert b.post(url, self.form(calendar_id="0", warn_share=""), csrf_from_url=url).status_code == 302
        with app.app_context():
            stored = db.session.get(MomentType, moment_type)
            assert stored.calendar_id is None and stored.warn_ratio == Decimal("0.75")

    @pytest.mark.parametrize("bad", [{"warn_share": "0"}, {"warn_share": "101"}, {"warn_share": "a lot"},
                                     {"calendar_id": "99999"}])
    def test_refused_values_change_nothing(self, app, login, admin, moment_type, bad):
        b = login(admin)
        url = f"/admin/moment-types/{moment_type}"
        response = b.post(url, self.form(name="Otro nombre", **bad), csrf_from_url=url)
        assert response.status_code == 400 and 'aria-invalid="true"' in text(response)
        with app.app_context():
            stored = db.session.get(MomentType, moment_type)
            assert stored.name == "Reclamación" and stored.warn_ratio == Decimal("0.75")


class TestPolicies:
    def test_creating_and_editing_a_policy(self, app, login, admin, moment_type):
        b = login(admin)
        page = text(b.get(NEW_POLICY))
        assert "Any type" in page and "Any tier" in page and "Free service" in page and "Reclamación" in page
        response = b.post(NEW_POLICY, {
            "moment_type_id": str(moment_type), "tier": "premium", "kind": "gift", "value": "20,50", "cost": "8",
            "escalate_after": "2", "escalation_window_days": "30", "escalated_value": "40", "cap_value": "100",
            "cap_period_days": "180", "active": "y"}, csrf_from_url=NEW_POLICY)
        assert response.status_code == 302 and response.headers["Location"] == POLICIES
        with app.app_context():
            policy = db.session.scalars(select(CompensationPolicy)).one()
            assert (policy.moment_type_id, policy.tier, policy.kind) == (moment_type, "premium", "gift")
            assert (policy.value, policy.cost, policy.escalated_value, policy.cap_value) == (
                Decimal("20.50"), Decimal("8.00"), Decimal("40.00"), Decimal("100.00"))
            assert (policy.escalate_after, policy.escalation_window_days, policy.cap_period_days) == (2, 30, 180)
            assert policy.requires_approval is False and policy.active is True
            policy_id = policy.id

        listing = text(b.get(POLICIES))
        assert "Reclamación" in listing and "Gift" in listing and "Premium" in listing
        url = f"/admin/compensation-policies/{policy_id}"
        page = text(b.get(url))
        assert f'<option value="{moment_type}" selected>' in page and '<option value="premium" selected>' in page

        response = b.post(url, {"moment_type_id": "0", "tier": "", "kind": "apology", "value": "", "cost": "",
                                "requires_approval": "y", "escalate_after": "", "escalation_window_days": "90",
                                "escalated_value": "", "cap_value": "", "cap_period_days": "365"}, csrf_from_url=url)
        assert response.status_code == 302
        with app.app_context():
            policy = db.session.get(CompensationPolicy, policy_id)
            assert (policy.moment_type_id, policy.tier, policy.kind, policy.value) == (
                None, None, "apology", Decimal("0.00"))
            assert policy.requires_approval and not policy.active
            assert policy.cost is policy.escalate_after is policy.escalated_value is policy.cap_value is None
        listing = text(b.get(POLICIES))
        assert "Any type" in listing and "Any tier" in listing and "Apology" in listing

    @pytest.mark.parametrize("bad, field", [
        ({"kind": "cash"}, "kind"),
        ({"value": "-5"}, "value"),
        ({"value": "diez"}, "value"),
        ({"escalated_value": "30"}, "escalate_after"),  # an escalated value needs the breach that triggers it
        ({"escalate_after": "0"}, "escalate_after"),
        ({"cap_period_days": "5000"}, "cap_period_days"),
        ({"moment_type_id": "99999"}, "moment_type_id"),
        ({"tier": "gold"}, "tier"),
    ])
    def test_refused_policies_write_nothing(self, app, login, admin, moment_type, bad, field):
        b = login(admin)
        response = b.post(NEW_POLICY, {"moment_type_id": "0", "tier": "", "kind": "discount", "value": "5",
                                       **bad}, csrf_from_url=NEW_POLICY)
        assert response.status_code == 400 and f'id="{field}-error"' in text(response)
        assert count(app, CompensationPolicy) == 0

    def test_one_policy_per_scope(self, app, login, admin):
        b = login(admin)
        good = {"moment_type_id": "0", "tier": "basic", "kind": "discount", "value": "5"}
        assert b.post(NEW_POLICY, good, csrf_from_url=NEW_POLICY).status_code == 302
        response = b.post(NEW_POLICY, {**good, "kind": "gift"}, csrf_from_url=NEW_POLICY)
        assert response.status_code == 400 and "already exists" in text(response)
        assert count(app, CompensationPolicy) == 1


class TestGoodwillLimits:
    def test_setting_each_roles_limit(self, app, login, admin):
        b = login(admin)
        page = text(b.get(POLICIES))
        assert 'name="goodwill-agent-max_value"' in page and 'name="goodwill-supervisor-max_value"' in page
        response = b.post(POLICIES, {"goodwill-agent-max_value": "15,50"}, csrf_from_url=POLICIES)
        assert response.status_code == 302
        assert b.post(POLICIES, {"goodwill-supervisor-max_value": "60"}, csrf_from_url=POLICIES).status_code == 302
        with app.app_context():
            assert db.session.get(GoodwillLimit, "agent").max_value == Decimal("15.50")
            assert db.session.get(GoodwillLimit, "supervisor").max_value == Decimal("60.00")
        page = text(b.get(POLICIES))
        assert 'value="15.50"' in page and 'value="60.00"' in page

    def test_zero_turns_goodwill_off(self, app, login, admin):
        b = login(admin)
        assert b.post(POLICIES, {"goodwill-agent-max_value": "0"}, csrf_from_url=POLICIES).status_code == 302
        with app.app_context():
            assert db.session.get(GoodwillLimit, "agent").max_value == Decimal("0.00")

    @pytest.mark.parametrize("value", ["-3", "", "mucho", "2000000"])
    def test_refused_limits_write_nothing(self, app, login, admin, value):
        b = login(admin)
        response = b.post(POLICIES, {"goodwill-agent-max_value": value}, csrf_from_url=POLICIES)
        assert response.status_code == 400
        assert 'id="goodwill-agent-max_value-error"' in text(response)
        assert count(app, GoodwillLimit) == 0


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_only_admins_reach_these_pages(app, login, make_user, admin, role):
    from crm.auth.models import User
    from crm.calendars.services import save_calendar
    from crm.compensations.services import save_policy
    from tests.conftest import NOW

    with app.app_context():
        actor = db.session.get(User, admin.id)
        calendar = save_calendar(actor, None, {"name": "Madrid", "timezone": "Europe/Madrid",
                                               "hours": {"0": [["09:00", "14:00"]]}}, NOW)
        policy = save_policy(actor, None, {"kind": "gift", "value": "5"}, NOW)
        db.session.commit()
        calendar_id, policy_id = calendar.id, policy.id
    b = login(make_user(role))
    urls = ["/admin/calendars", NEW_CALENDAR, f"/admin/calendars/{calendar_id}", POLICIES, NEW_POLICY,
            f"/admin/compensation-policies/{policy_id}"]
    for url in urls:
        assert b.get(url).status_code == 403, url
    for url in urls[1:]:
        assert b.post(url, {**calendar_form(), "kind": "gift", "goodwill-agent-max_value": "999"},
                      csrf_from_url="/account").status_code == 403, url
    assert count(app, Calendar) == 1 and count(app, CompensationPolicy) == 1 and count(app, GoodwillLimit) == 0
    with app.app_context():
        assert db.session.get(Calendar, calendar_id).name == "Madrid"
