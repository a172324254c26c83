"""Calendar feeds: secrets stored hashed, regenerate and revoke, and the iCalendar document."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from flask_babel import gettext
from icalendar import Calendar
from sqlalchemy import select

from crm.audit import AuditEvent
from crm.auth.models import User
from crm.extensions import db
from crm.feeds import services
from crm.feeds.ical import build_calendar
from crm.feeds.models import CalendarFeed
from crm.i18n import in_language
from crm.moments.models import Commitment

PLAIN = {"code": "hello", "name": "Hello", "kind": "transactional",
         "subject_es": "Hola, ¿qué tal?; todo bien", "body_es": "Hola {{ first_name }}",
         "subject_en": "Hello, how are you?; all good", "body_en": "Hello {{ first_name }}"}


def real_now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def log(user_id: int, customer_id: int, moment_type_id: int, now: datetime, **extra):
    from crm.moments.services import log_moment

    moment = log_moment(db.session.get(User, user_id), {"customer_id": customer_id, "moment_type": moment_type_id,
                                                        "notes": "Llamó", **extra}, now)
    db.session.flush()
    return moment


def schedule(admin_id: int, customer_id: int, due: datetime, now: datetime):
    from crm.followups.services import save_template, schedule_followup, template_by_code

    actor = db.session.get(User, admin_id)
    try:
        template_by_code("hello")
    except Exception:
        save_template(actor, PLAIN, now)
    return schedule_followup(actor, {"customer_id": customer_id, "template": "hello", "due_at": due}, now)


def events(body: bytes) -> dict[str, object]:
    cal = Calendar.from_ical(body)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


class TestSecrets:
    def test_only_the_hash_is_stored_and_the_secret_opens_the_feed(self, ctx, agent):
        user = db.session.get(User, agent.id)
        feed, secret = services.issue_feed(user, real_now())
        assert len(secret) >= 43 and feed.token_hash == services.hash_token(secret) and secret not in feed.token_hash
        assert services.user_for_secret(secret, real_now()).id == agent.id
        assert feed.last_used_at is not None
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.entity_id == agent.id)) \
            == "calendar_feed.created"

    def test_regenerating_replaces_the_old_secret(self, ctx, agent):
        user = db.session.get(User, agent.id)
        _, old = services.issue_feed(user, real_now())
        _, new = services.issue_feed(user, real_now())
        assert old != new
        assert services.user_for_secret(old, real_now()) is None
        assert services.user_for_secret(new, real_now()).id == agent.id
        assert len(db.session.scalars(select(CalendarFeed)).all()) == 1

    def test_revoked_and_inactive_feeds_open_nothing(self, ctx, agent):
        user = db.session.get(User, agent.id)
        _, secret = services.issue_feed(user, real_now())
        user.active = False
        assert services.user_for_secret(secret, real_now()) is None
        user.active = True
        assert services.revoke_feed(user, real_now()) is True
        assert services.user_for_secret(secret, real_now()) is None
        assert services.revoke_feed(user, real_now()) is False

    @pytest.mark.parametrize("secret", ["", "x", "a" * 5000, "abc\x00" * 12, "../../etc/passwd", None, 42,
                                        "ñ" * 43])
    def test_hostile_secrets_open_nothing(self, ctx, agent, secret):
        services.issue_feed(db.session.get(User, agent.id), real_now())
        assert services.user_for_secret(secret, real_now()) is None


class TestDocument:
    def test_commitments_and_followups_of_the_user_only(self, ctx, app, agent, admin, make_user, customer,
                                                        moment_type):
        now = real_now()
        other = make_user("agent", name="Otro Agente")
        moment = log(agent.id, customer, moment_type, now)
        log(other.id, customer, moment_type, now)  # someone else's commitments: not in the feed
        message = schedule(admin.id, customer, now + timedelta(days=2), now)
        user = db.session.get(User, agent.id)
        found = events(build_calendar(user, now))
        mine = db.session.scalars(select(Commitment).where(Commitment.moment_id == moment.id)
                                  .order_by(Commitment.id)).all()
        assert len(mine) == 2
        assert set(found) == {f"commitment-{c.id}@127.0.0.1" for c in mine} | {f"followup-{message.id}@127.0.0.1"}
        for commitment in mine:
            event = found[f"commitment-{commitment.id}@127.0.0.1"]
            assert event.decoded("DTSTART") == commitment.due_at
            assert event.decoded("DTSTART").utcoffset() == timedelta(0)
            assert event.decoded("DURATION") == timedelta(minutes=15)
            assert str(event["STATUS"]) == "CONFIRMED"
            assert f"/customers/{customer}" in str(event["DESCRIPTION"])
            alarm = event.walk("VALARM")[0]
            assert alarm.decoded("TRIGGER") == commitment.warn_at
        resolution = next(c for c in mine if c.kind == "resolution")
        # The agent has no language of their own: the default (Spanish) names the kind.
        assert str(found[f"commitment-{resolution.id}@127.0.0.1"]["SUMMARY"]) \
            == "Resolución: María García Núñez (Reclamación)"
        followup = found[f"followup-{message.id}@127.0.0.1"]
        assert followup.decoded("DTSTART") == message.due_at
        with in_language("es"):  # "Seguimiento: …" once the catalog has the words
            expected = gettext("Follow-up: %(subject)s — %(customer)s", subject=message.subject,
                               customer="María García Núñez")
        assert str(followup["SUMMARY"]) == expected and message.subject in expected

    def test_the_user_language_and_the_calendar_header(self, ctx, make_user, customer, moment_type):
        now = real_now()
        english = make_user("agent", name="Ann; Smith, \"QA\" 🎉", locale="en")
        log(english.id, customer, moment_type, now)
        cal = Calendar.from_ical(build_calendar(db.session.get(User, english.id), now))
        assert (str(cal["VERSION"]), str(cal["CALSCALE"]), str(cal["METHOD"])) == ("2.0", "GREGORIAN", "PUBLISH")
        assert "Fideliza" in str(cal["PRODID"])
        assert str(cal["X-WR-CALNAME"]) == "Fideliza: Ann; Smith, \"QA\" 🎉"
        summaries = sorted(str(e["SUMMARY"]) for e in cal.walk("VEVENT"))
        assert summaries == ["First response: María García Núñez (Reclamación)",
                             "Resolution: María García Núñez (Reclamación)"]

    def test_met_paused_and_cancelled_items(self, ctx, admin, agent, customer, moment_type):
        from crm.followups.services import cancel_message
        from crm.moments.services import mark_met, pause_commitment

        now = real_now()
        moment = log(agent.id, customer, moment_type, now)
        first, resolution = sorted(moment.commitments, key=lambda c: c.kind)
        user = db.session.get(User, agent.id)
        mark_met(user, first, now)
        pause_commitment(user, resolution, now)
        message = schedule(admin.id, customer, now + timedelta(days=1), now)
        cancel_message(db.session.get(User, admin.id), message, now)
        found = events(build_calendar(user, now))
        assert list(found) == [f"commitment-{resolution.id}@127.0.0.1"]
        event = found[f"commitment-{resolution.id}@127.0.0.1"]
        assert str(event["STATUS"]) == "TENTATIVE" and not event.walk("VALARM")

    def test_text_is_escaped_and_survives(self, ctx, agent, moment_type):
        from crm.customers.services import create_customer

        now = real_now()
        user = db.session.get(User, agent.id)
        odd = create_customer(user, {"name": "Peña, Ana; \"la 🚲\"\\ Ltd", "stage": "active"}, now)
        log(agent.id, odd.id, moment_type, now)
        body = build_calendar(user, now)
        assert b"Pe\xc3\xb1a\\, Ana\\; " in body  # RFC 5545 escapes commas and semicolons
        summaries = {str(e["SUMMARY"]) for e in Calendar.from_ical(body).walk("VEVENT")}
        assert "Resolución: Peña, Ana; \"la 🚲\"\\ Ltd (Reclamación)" in summaries

    def test_one_query_per_kind(self, app, ctx, agent, admin, customer, moment_type):
        from sqlalchemy import event as sa_event

        now = real_now()
        for _ in range(5):
            log(agent.id, customer, moment_type, now)
        for day in range(1, 4):
            schedule(admin.id, customer, now + timedelta(days=day), now)
        db.session.commit()
        user = db.session.get(User, agent.id)
        seen = []

        def listener(_conn, _cursor, statement, *_args):
            seen.append(statement)

        sa_event.listen(db.engine, "before_cursor_execute", listener)
        try:
            body = build_calendar(user, now)
        finally:
            sa_event.remove(db.engine, "before_cursor_execute", listener)
        assert len(Calendar.from_ical(body).walk("VEVENT")) == 13
        assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 2
