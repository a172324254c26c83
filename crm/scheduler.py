"""The scheduler process: `flask --app wsgi crm scheduler`. Never started inside web workers.

Jobs only call services with `now`; the business state lives in our tables, so a
restart loses nothing and a second scheduler changes nothing twice.
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from crm.extensions import db
from crm.types import utc_now

log = logging.getLogger("crm.scheduler")


def sweep_job(app: Flask) -> None:
    from crm.moments.sweep import sweep_commitments

    with app.app_context():
        try:
            result = sweep_commitments(utc_now())
            db.session.commit()
            if result.breached or result.at_risk:
                log.info("sweep: %s", result)
        except Exception:
            db.session.rollback()
            log.exception("sweep failed; the next run retries")
        finally:
            db.session.remove()


def dispatch_job(app: Flask) -> None:
    from crm.followups.dispatch import dispatch
    from crm.followups.transport import transport_from_config

    with app.app_context():
        try:
            result = dispatch(transport_from_config(), utc_now())
            if result.sent or result.retrying or result.failed:
                log.info("outbox: %s", result)
        except Exception:
            log.exception("dispatch failed; the next run retries")
        finally:
            db.session.remove()


def plan_followups_job(app: Flask) -> None:
    from crm.followups.jobs import plan

    with app.app_context():
        try:
            written = plan(utc_now())
            if written:
                log.info("follow-ups: %s messages written", written)
        except Exception:
            db.session.rollback()
            log.exception("follow-up planning failed; the next run retries")
        finally:
            db.session.remove()


def maintenance_job(app: Flask) -> None:
    """Hourly upkeep: old failed logins and month-old webhook events go, and SQLite refreshes
    the statistics its planner needs (without them it can pick a scan over an index on large tables)."""
    from sqlalchemy import text

    from crm.auth.services import prune_login_attempts
    from crm.webhooks.jobs import prune as prune_webhook_events

    with app.app_context():
        try:
            pruned = prune_login_attempts(utc_now())
            db.session.commit()
            prune_webhook_events(utc_now())
            if db.engine.dialect.name == "sqlite":
                with db.engine.connect() as connection:
                    connection.execute(text("PRAGMA optimize"))
            log.info("maintenance: %s old login attempts pruned", pruned)
        except Exception:
            db.session.rollback()
            log.exception("maintenance failed; the next run retries")
        finally:
            db.session.remove()


def refresh_rollups_job(app: Flask) -> None:
    """Every minute: rebuild the days of the daily rollup that writes changed, then the days
    never built (a bounded number per step, committing after each)."""
    from crm.insights.rollup import refresh_all

    with app.app_context():
        try:
            rebuilt = refresh_all(utc_now(), db.session.commit)
            if rebuilt:
                log.info("rollup: %s days rebuilt", rebuilt)
        except Exception:
            db.session.rollback()
            log.exception("rollup refresh failed; the next run retries")
        finally:
            db.session.remove()


def recompute_tiers_job(app: Flask) -> None:
    """Nightly: service tiers follow profitability. Commits after each chunk of changes."""
    from crm.insights.profitability import recompute_tiers

    with app.app_context():
        try:
            result = recompute_tiers(utc_now(), checkpoint=db.session.commit)
            db.session.commit()
            log.info("tiers: %s", result)
        except Exception:
            db.session.rollback()
            log.exception("tier recomputation failed; the next night retries")
        finally:
            db.session.remove()


def apply_lifecycle_rules_job(app: Flask) -> None:
    """Nightly: the lifecycle rules move customers along the ladder, into at_risk and churned.
    Commits after each chunk of changes."""
    from crm.customers.automation import apply_lifecycle_rules

    with app.app_context():
        try:
            result = apply_lifecycle_rules(utc_now(), checkpoint=db.session.commit)
            db.session.commit()
            log.info("lifecycle rules: %s", "; ".join([f"{result.customers} customers changed", *result.lines()]))
        except Exception:
            db.session.rollback()
            log.exception("lifecycle rules failed; the next night retries")
        finally:
            db.session.remove()


def weekly_report_job(app: Flask) -> None:
    """Monday morning: last week's PDF report to every active supervisor, through the outbox."""
    from crm.insights.report import send_weekly_report

    with app.app_context():
        try:
            written = send_weekly_report(utc_now())
            db.session.commit()
            if written:
                log.info("weekly report: %s messages written", len(written))
        except Exception:
            db.session.rollback()
            log.exception("weekly report failed; the next run retries")
        finally:
            db.session.remove()


def deliver_webhooks_job(app: Flask) -> None:
    """Every 15 seconds: post due webhook deliveries, retrying failures with back-off."""
    from crm.webhooks.jobs import deliver

    with app.app_context():
        try:
            result = deliver(utc_now())
            if result:
                log.info("webhooks: %s", result)
        except Exception:
            db.session.rollback()
            log.exception("webhook delivery failed; the next run retries")
        finally:
            db.session.remove()


def run_queued_imports_job(app: Flask) -> None:
    """Every 10 seconds: run the imports people queued from the pages (large files)."""
    from crm.imports.jobs import run_queued

    with app.app_context():
        try:
            result = run_queued(utc_now())
            if result:
                log.info("imports: %s", result)
        except Exception:
            db.session.rollback()
            log.exception("queued import failed; the next run retries")
        finally:
            db.session.remove()


def heartbeat_job(app: Flask) -> None:
    """Every 30 seconds: tell /readyz that a scheduler is alive."""
    from crm.health import beat

    with app.app_context():
        try:
            beat(utc_now())
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("heartbeat failed; the next run retries")
        finally:
            db.session.remove()


# After a pause, run once, not once per missed interval; never two of one job at once;
# a run late by up to five minutes still happens.
JOB_OPTIONS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300, "replace_existing": True}


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(sweep_job, "interval", minutes=1, args=[app], id="sweep_commitments",
                      next_run_time=utc_now(), **JOB_OPTIONS)
    scheduler.add_job(dispatch_job, "interval", seconds=15, args=[app], id="dispatch_outbox", **JOB_OPTIONS)
    scheduler.add_job(plan_followups_job, "interval", minutes=5, args=[app], id="plan_followups",
                      next_run_time=utc_now(), **JOB_OPTIONS)
    scheduler.add_job(maintenance_job, "interval", hours=1, args=[app], id="maintenance", **JOB_OPTIONS)
    scheduler.add_job(refresh_rollups_job, "interval", minutes=1, args=[app], id="refresh_rollups", **JOB_OPTIONS)
    scheduler.add_job(weekly_report_job, CronTrigger(day_of_week="mon", hour=8,
                                                     timezone=app.config["BABEL_DEFAULT_TIMEZONE"]),
                      args=[app], id="weekly_report", **JOB_OPTIONS)
    # 02:30 company time, when nobody is logging contacts.
    scheduler.add_job(recompute_tiers_job, "cron", hour=2, minute=30, args=[app], id="recompute_tiers",
                      timezone=app.config["BABEL_DEFAULT_TIMEZONE"], **JOB_OPTIONS)
    scheduler.add_job(apply_lifecycle_rules_job, "cron", hour=2, minute=45, args=[app], id="apply_lifecycle_rules",
                      timezone=app.config["BABEL_DEFAULT_TIMEZONE"], **JOB_OPTIONS)
    scheduler.add_job(deliver_webhooks_job, "interval", seconds=15, args=[app], id="deliver_webhooks",
                      **JOB_OPTIONS)
    scheduler.add_job(run_queued_imports_job, "interval", seconds=10, args=[app], id="run_queued_imports",
                      **JOB_OPTIONS)
    scheduler.add_job(heartbeat_job, "interval", seconds=30, args=[app], id="heartbeat",
                      next_run_time=utc_now(), **JOB_OPTIONS)
    return scheduler
