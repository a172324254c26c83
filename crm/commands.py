"""`flask --app wsgi crm …`: operator commands. Each one is a transaction boundary."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from crm.domain import DomainError, ValidationFailed
from crm.extensions import db
from crm.types import utc_now

crm_cli = AppGroup("crm", help="Fideliza operator commands.")


def _fail(exc: DomainError):
    db.session.rollback()
    if isinstance(exc, ValidationFailed):
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.translated_fields().items())
        raise click.ClickException(details)
    raise click.ClickException(exc.translated())


@crm_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["agent", "supervisor", "admin"]))
@click.option("--password", required=True, help="At least 8 characters.")
def create_user(email, name, role, password):
    """Create a staff account."""
    from crm.auth.services import create_user as create

    try:
        user = create(None, {"email": email, "name": name, "role": role, "password": password}, utc_now())
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"created {user.role} {user.email} (id {user.id})")


@crm_cli.command("create-token")
@click.option("--email", required=True)
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
def create_token(email, name):
    """Create an API token for a user; the token is the last line printed."""
    from crm.auth.models import User
    from crm.auth.services import issue_token

    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    try:
        _, secret = issue_token(None, user, name, utc_now())
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"token for {user.email} (shown once, store it now):")
    click.echo(secret)


@crm_cli.command("seed-demo")
@click.option("--customers", default=1400, show_default=True, help="How many demo customers.")
@click.option("--moments", default=5000, show_default=True, help="How many demo contacts.")
@click.option("--seed", default=20261122, show_default=True, help="Random seed, for repeatable data.")
def seed_demo(customers, moments, seed):
    """Load the demo business (idempotent: does nothing when it is already there)."""
    from crm.demo import seed as demo

    summary = demo.seed_demo(customers=customers, moments=moments, seed=seed, now=utc_now())
    db.session.commit()
    if summary is None:
        click.echo("demo data already present; nothing to do")
    else:
        click.echo("demo data loaded: " + ", ".join(f"{v} {k}" for k, v in summary.items()))
    click.echo("demo logins (password 'demo'): admin@demo.local, supervisor@demo.local, agent@demo.local")


def _parse_now(value: str | None):
    from datetime import datetime

    if not value:
        return utc_now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use an ISO instant like 2026-11-23T10:00:00+01:00", param_hint="'--now'") from None
    if moment.tzinfo is None:
        raise click.BadParameter("give the instant a time zone, e.g. +00:00", param_hint="'--now'")
    return moment


@crm_cli.command("sweep")
@click.option("--now", "now_text", help="Sweep as of this ISO instant (default: now).")
def sweep(now_text):
    """Break past-due commitments, flag those at risk, propose compensations."""
    from crm.moments.sweep import sweep_commitments

    result = sweep_commitments(_parse_now(now_text))
    db.session.commit()
    click.echo(f"breached {result.breached}, at risk {result.at_risk}, "
               f"compensations proposed {result.proposed}, issued {result.issued}")


@crm_cli.command("dispatch")
@click.option("--now", "now_text", help="Send what is due at this ISO instant (default: now).")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many messages.")
def dispatch(now_text, limit):
    """Send the outbox's due messages; prints counts."""
    from crm.followups.dispatch import dispatch as run
    from crm.followups.rules import SmtpUrlError
    from crm.followups.transport import transport_from_config

    now = _parse_now(now_text)
    try:
        transport = transport_from_config()
    except SmtpUrlError as exc:
        raise click.ClickException(f"CRM_SMTP_URL: {exc}") from None
    result = run(transport, now, limit=limit)
    click.echo(str(result))


@crm_cli.command("plan-followups")
@click.option("--now", "now_text", help="Plan as of this ISO instant (default: now).")
def plan_followups(now_text):
    """Write the renewal and quiet-customer messages that are due; prints how many."""
    from crm.followups.jobs import plan

    click.echo(f"{plan(_parse_now(now_text))} messages written")


@crm_cli.command("refresh-rollups")
@click.option("--now", "now_text", help="Refresh as of this ISO instant (default: now).")
def refresh_rollups(now_text):
    """Bring the daily rollup up to date: changed days, then days never built."""
    from crm.insights.rollup import refresh_all

    rebuilt = refresh_all(_parse_now(now_text), db.session.commit,
                          log_progress=lambda total: click.echo(f"{total} days", err=True))
    click.echo(f"{rebuilt} days rebuilt")


@crm_cli.command("recompute-tiers")
@click.option("--now", "now_text", help="Recompute as of this ISO instant (default: now).")
def recompute_tiers(now_text):
    """Set every customer's service tier from their profitability (the admin's tier rule)."""
    from crm.insights.profitability import recompute_tiers as run

    result = run(_parse_now(now_text), checkpoint=db.session.commit)
    db.session.commit()
    click.echo(str(result))


@crm_cli.command("apply-lifecycle-rules")
@click.option("--now", "now_text", help="Apply the rules as of this ISO instant (default: now).")
def apply_lifecycle_rules(now_text):
    """Move customers along the loyalty ladder, into at_risk and churned, by the lifecycle rules."""
    from crm.customers.automation import apply_lifecycle_rules as run

    result = run(_parse_now(now_text), checkpoint=db.session.commit)
    db.session.commit()
    click.echo(str(result))


@crm_cli.group("report")
def report_cli():
    """PDF reports."""


@report_cli.command("weekly")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Where to write the PDF.")
@click.option("--week", help="Any day of the week, YYYY-MM-DD (default: the last complete week).")
@click.option("--language", type=click.Choice(["es", "en"]), help="Default: the company's language.")
@click.option("--now", "now_text", help="Report as of this ISO instant (default: now).")
def report_weekly(out_path, week, language, now_text):
    """Write a week's report (Monday to Sunday in the company's time zone) as a PDF."""
    from flask import current_app

    from crm.insights import report

    now = _parse_now(now_text)
    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    try:
        week_start = report.week_of(week, zone, now)
        pdf = report.weekly_report_pdf(week_start, zone=zone, now=now, language=language)
    except DomainError as exc:
        _fail(exc)
    with open(out_path, "wb") as out:
        out.write(pdf)
    click.echo(f"weekly report {week_start.isoformat()}: {len(pdf)} bytes written to {out_path}")


@crm_cli.command("scheduler")
def scheduler():
    """Run the scheduler process (sweep, outbox, follow-ups). Start exactly one beside the web server."""
    import logging

    from flask import current_app

    from crm.requestlog import FORMATTERS
    from crm.scheduler import build_scheduler

    # The scheduler logs as the web servers do: JSON lines in production, text in development.
    handler = logging.StreamHandler()
    handler.setFormatter(FORMATTERS[current_app.config["CRM_LOG_FORMAT"]](
        "%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=current_app.config["CRM_LOG_LEVEL"], handlers=[handler])
    # Our jobs log what they did; APScheduler's two lines per run (every 15 s) would bury it.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    click.echo("scheduler running: sweep every minute, outbox and webhooks every 15 s, queued imports every"
               " 10 s, follow-up planning every 5 minutes, service tiers at 02:30, lifecycle rules at 02:45,"
               " the weekly report on Mondays at 08:00 (Ctrl-C stops it)")
    try:
        build_scheduler(current_app._get_current_object()).start()
    except (KeyboardInterrupt, SystemExit):
        pass


@crm_cli.command("is-empty")
def is_empty():
    """Exit 0 when the database holds no staff account yet (used by `make run`)."""
    from crm.auth.models import User

    raise SystemExit(0 if db.session.scalar(select(User.id).limit(1)) is None else 1)


# Commands kept beside their feature register themselves on crm_cli when imported.
from crm.exports import commands as _exports_commands  # noqa: E402,F401
from crm.imports import commands as _imports_commands  # noqa: E402,F401
from crm.privacy import commands as _privacy_commands  # noqa: E402,F401
from crm.webhooks import commands as _webhooks_commands  # noqa: E402,F401
