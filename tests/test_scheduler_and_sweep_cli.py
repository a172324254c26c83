"""`crm sweep`, the scheduler's jobs, and what an at-risk commitment looks like."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from crm.audit import AuditEvent
from crm.extensions import db
from crm.moments.models import Commitment


def log_complaint(api_as, agent, customer, when):
    return api_as(agent).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint",
                                                        "occurred_at": when.isoformat()}).get_json()


def test_sweep_command_prints_counts_and_takes_now(runner, app, api_as, agent, customer, moment_type):
    occurred = datetime.now(timezone.utc) - timedelta(hours=1)
    log_complaint(api_as, agent, customer, occurred)
    at_risk = runner.invoke(args=["crm", "sweep", "--now", (occurred + timedelta(hours=3, minutes=30)).isoformat()])
    assert at_risk.exit_code == 0 and "breached 0, at risk 1" in at_risk.output
    done = runner.invoke(args=["crm", "sweep", "--now", (occurred + timedelta(days=3)).isoformat()])
    assert "breached 2" in done.output
    again = runner.invoke(args=["crm", "sweep", "--now", (occurred + timedelta(days=3)).isoformat()])
    assert "breached 0, at risk 0" in again.output
    for bad in ("yesterday", "2026-11-23T10:00:00"):
        result = runner.invoke(args=["crm", "sweep", "--now", bad])
        assert result.exit_code != 0 and "--now" in result.output


def test_scheduler_jobs_are_configured_to_never_pile_up(app):
    from crm.scheduler import build_scheduler

    scheduler = build_scheduler(app)
    job = scheduler.get_job("sweep_commitments")
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 60
    assert job.trigger.interval == timedelta(minutes=1)


def test_sweep_job_commits_and_recovers(app, api_as, agent, customer, moment_type, monkeypatch, caplog):
    from crm import scheduler

    log_complaint(api_as, agent, customer, datetime.now(timezone.utc) - timedelta(days=3))
    scheduler.sweep_job(app)
    with app.app_context():
        assert db.session.scalar(select(Commitment.status).limit(1)) == "breached"

    def broken(now):
        raise RuntimeError("database went away")

    monkeypatch.setattr("crm.moments.sweep.sweep_commitments", broken)
    scheduler.sweep_job(app)  # logs and returns: the next run retries
    assert "sweep failed" in caplog.text and "database went away" in caplog.text


def test_at_risk_shows_on_the_agents_home_before_it_breaks(login, agent, api_as, customer, moment_type):
    log_complaint(api_as, agent, customer, datetime.now(timezone.utc) - timedelta(hours=3, minutes=30))
    home = login(agent).get("/").get_data(as_text=True)
    assert home.count("At risk") == 1 and "Overdue" not in home


def test_decisions_are_audited(app, api_as, agent, supervisor, admin, customer, moment_type):
    from crm.auth.models import User
    from crm.compensations.services import save_policy
    from crm.moments.sweep import sweep_commitments

    with app.app_context():
        save_policy(db.session.get(User, admin.id), None, {"kind": "gift", "value": "5"}, datetime.now(timezone.utc))
        db.session.commit()
    log_complaint(api_as, agent, customer, datetime.now(timezone.utc) - timedelta(days=3))
    with app.app_context():
        sweep_commitments(datetime.now(timezone.utc))
        db.session.commit()
    boss = api_as(supervisor)
    first, second = (c["id"] for c in boss.get("/api/v1/compensations").get_json()["items"])
    boss.post(f"/api/v1/compensations/{first}/approve", json={"note": "vale"})
    boss.post(f"/api/v1/compensations/{first}/issue")
    boss.post(f"/api/v1/compensations/{second}/reject", json={"reason": "no procede"})
    with app.app_context():
        events = db.session.execute(select(AuditEvent.action, AuditEvent.user_id, AuditEvent.entity_id)
                                    .where(AuditEvent.entity == "compensation")).all()
        assert sorted(events) == sorted([("compensation.approved", supervisor.id, first),
                                         ("compensation.issued", supervisor.id, first),
                                         ("compensation.rejected", supervisor.id, second)])


def test_maintenance_prunes_old_login_attempts_only(app):
    from crm.auth.models import LoginAttempt
    from crm.scheduler import build_scheduler, maintenance_job

    now = datetime.now(timezone.utc)
    with app.app_context():
        db.session.add_all([LoginAttempt(email="a@example.es", address="10.0.0.1", at=now - timedelta(days=3)),
                            LoginAttempt(email="a@example.es", address="10.0.0.1", at=now - timedelta(minutes=5))])
        db.session.commit()
    maintenance_job(app)
    with app.app_context():
        assert [a.at > now - timedelta(hours=1) for a in db.session.scalars(select(LoginAttempt))] == [True]
    job = build_scheduler(app).get_job("maintenance")
    assert job.trigger.interval == timedelta(hours=1) and job.max_instances == 1


def test_outbox_and_planning_jobs(app, admin, agent, monkeypatch, tmp_path, caplog):
    """The scheduler dispatches every 15 s and plans follow-ups every 5 minutes; both survive errors."""
    from crm.auth.models import User
    from crm.customers.services import create_customer
    from crm.followups import services
    from crm.followups.models import OutboxMessage
    from crm.scheduler import build_scheduler, dispatch_job, plan_followups_job
    from tests.services.test_followups import RENEWAL

    scheduler = build_scheduler(app)
    assert scheduler.get_job("dispatch_outbox").trigger.interval == timedelta(seconds=15)
    assert scheduler.get_job("plan_followups").trigger.interval == timedelta(minutes=5)
    today = datetime.now(timezone.utc)
    with app.app_context():
        actor = db.session.get(User, admin.id)
        template = services.save_template(actor, RENEWAL, today)
        services.save_rule(actor, {"name": "R", "trigger": "before_renewal", "template_id": template.id,
                                   "days": 30}, today)
        customer = create_customer(db.session.get(User, agent.id), {"name": "Ana", "email": "ana@example.es"}, today)
        customer.renewal_date = today.date() + timedelta(days=3)
        db.session.commit()
    monkeypatch.setitem(app.config, "CRM_SMTP_URL", None)
    monkeypatch.setitem(app.config, "CRM_MAIL_DIR", str(tmp_path))
    plan_followups_job(app)
    dispatch_job(app)
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.status)) == "sent"
    assert len(list(tmp_path.glob("*.eml"))) == 1

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("crm.followups.jobs.plan", broken)
    monkeypatch.setattr("crm.followups.dispatch.dispatch", broken)
    plan_followups_job(app)
    dispatch_job(app)
    assert "follow-up planning failed" in caplog.text and "dispatch failed" in caplog.text


def test_dispatch_and_plan_commands(app, runner, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "CRM_SMTP_URL", None)
    monkeypatch.setitem(app.config, "CRM_MAIL_DIR", str(tmp_path))
    result = runner.invoke(args=["crm", "dispatch", "--now", "2026-11-23T10:00:00+00:00"])
    assert result.exit_code == 0 and "0 sent" in result.output
    result = runner.invoke(args=["crm", "plan-followups", "--now", "2026-11-23T10:00:00+00:00"])
    assert result.exit_code == 0 and "0 messages written" in result.output
    monkeypatch.setitem(app.config, "CRM_SMTP_URL", "http://mail.example.es")
    result = runner.invoke(args=["crm", "dispatch"])
    assert result.exit_code != 0 and "CRM_SMTP_URL" in result.output


def test_the_scheduler_logs_in_the_configured_format(app, runner, monkeypatch):
    """JSON lines in production (what the web servers write), so one collector reads both."""
    import json
    import logging

    from crm import scheduler as scheduler_module
    from crm.requestlog import JsonFormatter

    class Stopped:
        def start(self):
            logging.getLogger("crm.scheduler").warning("a job said something")
            raise KeyboardInterrupt

    monkeypatch.setattr(scheduler_module, "build_scheduler", lambda app: Stopped())
    monkeypatch.setitem(app.config, "CRM_LOG_FORMAT", "json")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []  # basicConfig only configures a root logger that has no handler yet
    try:
        result = runner.invoke(args=["crm", "scheduler"])
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        record = logging.LogRecord("crm.scheduler", logging.WARNING, __file__, 1, "a job said something", None, None)
        line = json.loads(handler.formatter.format(record))
        assert (line["logger"], line["level"], line["msg"]) == ("crm.scheduler", "warning", "a job said something")
        assert result.exit_code == 0 and "scheduler running" in result.output
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])
