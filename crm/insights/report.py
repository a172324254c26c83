"""The weekly PDF report: last week's figures, breaches, journey and customers at risk.

Three steps, each testable on its own:

1. `gather` reads the week (Monday 00:00 to the next Monday 00:00 in the company's time
   zone) with the same services the pages and the API use, so the PDF and
   `GET /api/v1/metrics` cannot disagree; lists are bounded (500 breaches, 50 customers).
2. `render_html` lays it out with Jinja (insights/report.html, A4 print CSS) in one
   language; the emotion curve is the same SVG the journey page shows.
3. `html_to_pdf` converts the HTML with WeasyPrint in a child process with a time and a
   memory limit, so a pathological report cannot stall or bloat a web worker or the
   scheduler. The child loads nothing from the network or the disk: only data: URLs.

`send_weekly_report` (the scheduler's Monday job) writes one outbox row per active
supervisor with the PDF attached, keyed `report:weekly:<week start>:<user id>`, so a
rerun or a second scheduler writes nothing new.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time as clock
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from crm.auth.models import User
from crm.customers.lifecycle import TIERS
from crm.customers.models import Customer, StageChange
from crm.domain import N_, Cleaner, DomainError
from crm.extensions import db
from crm.i18n import in_language, supported_language
from crm.insights import journey as journeys
from crm.insights import services
from crm.insights.dashboard import trend
from crm.insights.figures import FIGURE_LABELS as ALL_LABELS
from crm.moments.models import Commitment, Moment

BREACH_ROWS = 500
AT_RISK_ROWS = 50
AT_RISK_STAGE = "at_risk"
DEFAULT_TIMEOUT = 60.0
DEFAULT_MEMORY_MB = 1024
LANGUAGES = ("es", "en")
# How running out of address space shows in the child's stderr (Python, the C libraries, the loader).
OUT_OF_MEMORY = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "failed to map segment")

# (figure of services.compute_metrics, how it is shown, whether higher is better)
KEY_FIGURES = (
    ("nps", "points", True),
    ("csat", "percent", True),
    ("fcr_first", "percent", True),
    ("fcr_second", "percent", True),
    ("sla_first_response", "percent", True),
    ("sla_resolution", "percent", True),
    ("breaches", "count", False),
    ("compensations_issued", "count", False),
    ("compensations_value", "money", False),
    ("compensations_cost", "money", False),
    ("contacts", "count", True),
    ("cost_to_serve", "money", False),
    ("revenue", "money", True),
    ("churn_rate", "percent", False),
)
FIGURE_LABELS = {figure: ALL_LABELS[figure] for figure, _, _ in KEY_FIGURES}


class ReportFailed(DomainError):
    """The PDF could not be made (too slow, too big, or the converter failed)."""

    code = "report_failed"
    status = 503


# --- the week ----------------------------------------------------------------------------

def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def last_complete_week(zone: str, now: datetime) -> date:
    """The Monday of the last week that has ended in the company's time zone."""
    return monday(services.today(zone, now)) - timedelta(days=7)


def week_of(value, zone: str, now: datetime) -> date:
    """The Monday of the week holding `value` (a date or "YYYY-MM-DD"; empty: the last
    complete week). A week that has not started yet is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return last_complete_week(zone, now)
    c = Cleaner()
    day = services.parse_day(value)
    if not services.is_date(day):
        c.fail("week", N_("must be a date (YYYY-MM-DD)"))
    elif not services.EARLIEST_DAY + timedelta(days=14) <= day <= services.today(zone, now):
        c.fail("week", N_("must be between %(first)s and %(last)s"),
               first=(services.EARLIEST_DAY + timedelta(days=14)).isoformat(),
               last=services.today(zone, now).isoformat())
    c.check()
    return monday(day)


# --- gathering -----------------------------------------------------------------------------

def _broken(start: datetime, end: datetime):
    """Commitments due in the week and not kept on time, as the metrics count them."""
    late = or_(Commitment.status == "breached",
               and_(Commitment.status == "met", Commitment.met_at > Commitment.due_at))
    return and_(Commitment.due_at >= start, Commitment.due_at < end, late)


def _breaches(start: datetime, end: datetime) -> list[Commitment]:
    return list(db.session.scalars(
        select(Commitment).where(_broken(start, end))
        .options(joinedload(Commitment.moment).joinedload(Moment.customer),
                 joinedload(Commitment.moment).joinedload(Moment.moment_type),
                 joinedload(Commitment.owner))
        .order_by(Commitment.due_at, Commitment.id).limit(BREACH_ROWS)))


def _at_risk(end: datetime) -> tuple[list[tuple[Customer, datetime | None]], int]:
    """Customers in stage at_risk, the latest to get there first (at most 50), and how many."""
    moved = (select(StageChange.customer_id, func.max(StageChange.at).label("at"))
             .where(StageChange.to_stage == AT_RISK_STAGE, StageChange.at < end)
             .group_by(StageChange.customer_id).subquery())
    rows = db.session.execute(
        select(Customer, moved.c.at).outerjoin(moved, moved.c.customer_id == Customer.id)
        .where(Customer.stage == AT_RISK_STAGE).options(joinedload(Customer.owner))
        .order_by(moved.c.at.desc().nulls_last(), Customer.id.desc()).limit(AT_RISK_ROWS)).all()
    total = db.session.scalar(select(func.count()).select_from(Customer).where(Customer.stage == AT_RISK_STAGE))
    return [(customer, at) for customer, at in rows], total


def _tiers(period: services.Period, currency: str) -> list[dict]:
    """Customers per service tier with the week's revenue, cost to serve and profit
    (crm.insights.profitability's figures, summed per tier in one query)."""
    try:
        from crm.insights.profitability import money, profit_query
    except ImportError:  # without the profitability module: the head count alone
        profit_query = None
    if profit_query is None:
        counts = dict(db.session.execute(select(Customer.tier, func.count()).group_by(Customer.tier)).all())
        sums = {tier: (n, None, None, None) for tier, n in counts.items()}
    else:
        rows = profit_query(period, currency).subquery("profits")
        sums = {tier: (n, money(revenue), money(cost), money(profit)) for tier, n, revenue, cost, profit in
                db.session.execute(select(rows.c.tier, func.count(), func.sum(rows.c.revenue),
                                          func.sum(rows.c.contact_cost + rows.c.compensation_cost),
                                          func.sum(rows.c.profit)).group_by(rows.c.tier))}
    total = sum(n for n, *_ in sums.values())
    order = list(reversed(TIERS)) + sorted(t for t in sums if t not in TIERS)
    out = []
    for tier in order:
        n, revenue, cost, profit = sums.get(tier, (0, None, None, None))
        out.append({"tier": tier, "customers": n, "share": None if not total else 100.0 * n / total,
                    "revenue": revenue, "cost_to_serve": cost, "profit": profit})
    return out


def gather(week_start: date, *, zone: str, now: datetime) -> dict:
    """Everything the report shows for the week starting on Monday `week_start`."""
    last_day = week_start + timedelta(days=6)
    metrics = services.metrics_report(week_start, last_day, None, zone=zone, now=now)
    period = metrics["period"]
    rows = []
    for key, kind, higher_is_better in KEY_FIGURES:
        change = metrics["change"][key]
        rows.append({"key": key, "kind": kind, "current": metrics["current"][key],
                     "previous": metrics["previous"][key], "change": change,
                     "trend": trend(change, higher_is_better)})
    breaches = _breaches(period.start, period.end)
    at_risk, at_risk_total = _at_risk(period.end)
    journey = journeys.journey_report(week_start, last_day, None, zone=zone, now=now)
    return {
        "week_start": week_start, "week_end": last_day, "period": period,
        "previous_period": metrics["previous_period"], "generated_at": now,
        "metrics": metrics, "current": metrics["current"], "rows": rows,
        "breaches": breaches, "breaches_total": metrics["current"]["breaches"],
        "journey": journey, "pain_points": journey["pain_points"],
        "at_risk": at_risk, "at_risk_total": at_risk_total,
        "tiers": _tiers(period, metrics["currency"]),
    }


# --- HTML -------------------------------------------------------------------------------------

def render_html(data: dict, language: str) -> str:
    """The report as a self-contained HTML document in `language`."""
    # Imported here: the insights views import this module's view in turn.
    from crm.insights.journey_views import curve_chart
    from crm.insights.views import Figures

    with in_language(language):
        return render_template("insights/report.html", report=data, figures=Figures(),
                               chart=curve_chart(data["journey"]), labels=FIGURE_LABELS,
                               company_name=current_app.config["CRM_COMPANY_NAME"], language=language)


# --- PDF in a child process ----------------------------------------------------------------------

# The child: limit its own address space, convert stdin's HTML, write the PDF to stdout and
# its peak resident memory (kB) on stderr's last line. Run with -I: nothing from the
# environment or the working directory is imported.
_CHILD = r"""
import resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from weasyprint import HTML
from weasyprint.urls import URLFetcher
html = sys.stdin.buffer.read().decode("utf-8")
fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False, timeout=1)
pdf = HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf()
sys.stdout.buffer.write(pdf)
sys.stdout.buffer.flush()
sys.stderr.write("\npeak-rss-kb %d\n" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@dataclass(frozen=True)
class Pdf:
    data: bytes
    seconds: float
    peak_rss_mb: float | None


def html_to_pdf(html: str, *, timeout: float | None = None, memory_mb: int | None = None) -> Pdf:
    """Convert in a child process; ReportFailed when it runs out of time or memory or fails."""
    timeout = float(services.setting("CRM_REPORT_TIMEOUT", DEFAULT_TIMEOUT) if timeout is None else timeout)
    memory_mb = int(services.setting("CRM_REPORT_MEMORY_MB", DEFAULT_MEMORY_MB) if memory_mb is None else memory_mb)
    started = clock.monotonic()
    child = subprocess.Popen([sys.executable, "-I", "-c", _CHILD, str(memory_mb * 1024 * 1024)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pdf, errors = child.communicate(html.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise ReportFailed(N_("the PDF took longer than %(seconds)s seconds to make and was stopped"),
                           seconds=f"{timeout:g}") from None
    seconds = clock.monotonic() - started
    text = errors.decode("utf-8", "replace")
    if child.returncode != 0 or not pdf.startswith(b"%PDF"):
        current_app.logger.error("PDF conversion failed (exit %s): %s", child.returncode, text[-2000:])
        # Under the address-space limit a C library (cairo, Pango, HarfBuzz) whose malloc
        # fails often crashes instead of reporting it: a segfault or abort there is memory.
        crashed = child.returncode in (-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGABRT)
        if crashed or any(sign in text for sign in OUT_OF_MEMORY):
            raise ReportFailed(N_("the PDF needed more than %(mb)s MB of memory and was stopped"), mb=memory_mb)
        raise ReportFailed(N_("the PDF could not be made (exit code %(code)s)"), code=child.returncode)
    peak = None
    lines = text.strip().splitlines()
    if lines and lines[-1].startswith("peak-rss-kb "):
        peak = int(lines[-1].split()[1]) / 1024
    return Pdf(pdf, seconds, peak)


def default_language() -> str:
    return supported_language(None)


def weekly_report_pdf(week_start: date, *, zone: str, now: datetime, language: str | None = None) -> bytes:
    return html_to_pdf(render_html(gather(week_start, zone=zone, now=now), language or default_language())).data


def file_name(week_start: date, language: str) -> str:
    with in_language(language):
        return _("weekly-report-%(week)s.pdf", week=week_start.isoformat())


# --- the Monday email ------------------------------------------------------------------------------

def report_key(week_start: date, user_id: int) -> str:
    return f"report:weekly:{week_start.isoformat()}:{user_id}"


def send_weekly_report(now: datetime, week_start: date | None = None) -> list[int]:
    """Write one outbox row per active supervisor, the week's PDF attached (in the
    supervisor's language); rows already written are neither rendered nor written again.
    Flushes, never commits. Returns the ids of the rows written."""
    from crm.followups.models import OutboxMessage
    from crm.followups.outbox import insert_rows
    from crm.followups.render import Attachment, build_message, public_url

    zone = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    week_start = week_start or last_complete_week(zone, now)
    supervisors = list(db.session.scalars(select(User).where(User.role == "supervisor", User.active.is_(True))
                                          .order_by(User.id)))
    keys = {report_key(week_start, s.id): s for s in supervisors}
    written = set(db.session.scalars(select(OutboxMessage.idempotency_key)
                                     .where(OutboxMessage.idempotency_key.in_(list(keys)))))
    waiting = [(key, s) for key, s in keys.items() if key not in written]
    if not waiting:
        return []
    data = gather(week_start, zone=zone, now=now)
    pdfs: dict[str, bytes] = {}
    rows = []
    for key, supervisor in waiting:
        language = supported_language(supervisor.locale)
        if language not in pdfs:
            pdfs[language] = html_to_pdf(render_html(data, language)).data
        with in_language(language):
            subject = _("Weekly report: %(first)s to %(last)s", first=week_start.isoformat(),
                        last=(week_start + timedelta(days=6)).isoformat())
            body = "\n\n".join([
                _("Hello %(name)s,", name=supervisor.name),
                _("Attached is last week's report: key figures, broken commitments and compensations, "
                  "the journey map, pain points and customers at risk."),
                _("The live figures: %(url)s", url=public_url("/insights/")),
            ])
        rendered = build_message(key=key, to_address=supervisor.email, to_name=supervisor.name, language=language,
                                 subject=subject, body=body, marketing=False, unsubscribe=None, survey=None,
                                 attachments=[Attachment(file_name(week_start, language), "application/pdf",
                                                         pdfs[language])])
        rows.append({
            "idempotency_key": key, "customer_id": None, "user_id": supervisor.id, "kind": "transactional",
            "survey": None, "to_address": supervisor.email, "language": language, "subject": subject[:300],
            "message": rendered.message, "due_at": now, "status": "pending", "attempts": 0, "created_at": now,
        })
    return insert_rows(rows)
