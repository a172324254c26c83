"""The scheduler process: `flask --app wsgi crm scheduler`. Never started inside web workers.

Jobs only call services with `now`; the business state lives in our tables, so a
restart loses nothing and a second scheduler changes nothing twice.
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler
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


# After a pause, run once, not once per missed interval; never two of one job at once;
# a run late by up to five minutes still happens.
JOB_OPTIONS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300, "replace_existing": True}


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(sweep_job, "interval", minutes=1, args=[app], id="sweep_commitments",
                      next_run_time=utc_now(), **JOB_OPTIONS)
    return scheduler
