"""`flask --app wsgi crm apply-lifecycle-rules`: applies the rules as of --now and prints counts per rule."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from crm.customers.models import Customer, Purchase, StageChange
from crm.extensions import db
from tests.conftest import NOW


def test_apply_lifecycle_rules_from_the_command_line(app, runner):
    with app.app_context():
        buyer = Customer(name="Compradora", sort_name="compradora", stage="prospect", created_at=NOW)
        quiet = Customer(name="Callado", sort_name="callado", stage="active", created_at=NOW - timedelta(days=400),
                         last_activity_at=NOW - timedelta(days=200))
        db.session.add_all([buyer, quiet])
        db.session.flush()
        db.session.add(Purchase(customer_id=buyer.id, amount=10, currency="EUR", purchased_on=date(2026, 11, 10),
                                created_at=NOW - timedelta(days=6)))
        db.session.commit()
        ids = buyer.id, quiet.id
    result = runner.invoke(args=["crm", "apply-lifecycle-rules", "--now", NOW.isoformat()])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2 customers changed"
    assert "first_purchase: 1 stage moves, 0 loyalty changes" in lines
    assert "inactivity: 1 stage moves, 0 loyalty changes" in lines
    assert "regular_purchases: 0 stage moves, 0 loyalty changes" in lines
    with app.app_context():
        assert [db.session.get(Customer, i).stage for i in ids] == ["new", "churned"]
        changes = db.session.scalars(select(StageChange)).all()
        assert {(c.customer_id, c.rule, c.at) for c in changes} == {(ids[0], "first_purchase", NOW),
                                                                     (ids[1], "inactivity", NOW)}
    again = runner.invoke(args=["crm", "apply-lifecycle-rules", "--now", NOW.isoformat()])
    assert again.output.splitlines()[0] == "0 customers changed"


def test_a_bad_now_is_refused(runner, app):
    result = runner.invoke(args=["crm", "apply-lifecycle-rules", "--now", "yesterday"])
    assert result.exit_code == 2 and "ISO instant" in result.output
    assert runner.invoke(args=["crm", "apply-lifecycle-rules", "--now", "2026-11-16T10:00:00"]).exit_code == 2


def test_the_scheduler_runs_the_rules_nightly(app):
    from crm.scheduler import build_scheduler

    job = build_scheduler(app).get_job("apply_lifecycle_rules")
    assert job.coalesce is True and job.max_instances == 1
    assert str(job.trigger.fields[5]) == "2" and str(job.trigger.fields[6]) == "45"  # hour, minute
    assert str(job.trigger.timezone) == app.config["BABEL_DEFAULT_TIMEZONE"]
