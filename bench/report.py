"""The weekly PDF report at scale (issue 5): 100,000 customers, 1,000,000 moments, 500
breaches in the week.

    .venv/bin/python -m bench.report [--repeat 3] [--moments 1000000] [--allow-stale]

Works on a copy of the cached database. The week is the last complete one before the
newest contact; 500 commitments are moved into it as breached (due and breached at
instants spread over the week), so the report's breach table is full. Times the report
end to end as the CLI and the Monday job make it: gathering the figures (both weeks'
metrics, the journey map, the lists), rendering the HTML, and converting it to PDF in
the child process; and reports the child's peak resident memory.
Targets: <= 6 s end to end (median), <= 400 MB peak in the child.
"""
from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import time
from datetime import timedelta

from bench import DATA_DIR
from bench.generate import ensure_database, make_app, remove_database

TARGET_SECONDS = 6.0
TARGET_MB = 400.0
BREACHES = 500


def _breach_week(week_start, zone: str) -> int:
    """Move BREACHES commitments into the week as breached; returns how many are broken in it."""
    from sqlalchemy import bindparam, select, update

    from crm.extensions import db
    from crm.insights.services import local_midnight
    from crm.moments.models import Commitment

    start = local_midnight(week_start, zone)
    step = timedelta(days=7) / BREACHES
    ids = list(db.session.scalars(select(Commitment.id).order_by(Commitment.id.desc()).limit(BREACHES)))
    rows = [{"cid": cid, "due": start + step * (i + 0.5)} for i, cid in enumerate(ids)]
    table = Commitment.__table__
    db.session.connection().execute(
        update(table).where(table.c.id == bindparam("cid"))
        .values(status="breached", due_at=bindparam("due"), breached_at=bindparam("due"), met_at=None), rows)
    db.session.commit()
    return len(ids)


def run(repeat: int, moments: int, allow_stale: bool, log=print) -> dict:
    import flask_migrate
    from pypdf import PdfReader
    from sqlalchemy import func, select

    from crm.extensions import db
    from crm.insights import report, rollup
    from crm.insights.services import local_midnight, today
    from crm.moments.models import Moment

    cached, _ = ensure_database(100_000, moments, allow_stale=allow_stale, log=log)
    work = DATA_DIR / "report-work.db"
    remove_database(work)
    shutil.copyfile(cached, work)
    app = make_app(work)
    figures: dict = {"moments": moments}
    try:
        with app.app_context():
            flask_migrate.upgrade()
            zone = app.config["BABEL_DEFAULT_TIMEZONE"]
            newest = db.session.scalar(select(func.max(Moment.occurred_at)))
            week_start = report.monday(today(zone, newest)) - timedelta(days=7)
            # The Monday job's "now": 08:00 on the Monday after the week.
            now = local_midnight(week_start + timedelta(days=7), zone) + timedelta(hours=8)
            figures["week"] = week_start.isoformat()
            figures["moved"] = _breach_week(week_start, zone)
            # The scheduler keeps the daily rollup current (every minute); here it is built
            # once, from nothing, after the breaches were moved in.
            started = time.perf_counter()
            figures["rollup_days"] = rollup.refresh_all(now, db.session.commit)
            figures["rollup_seconds"] = time.perf_counter() - started
            runs = []
            for _ in range(repeat):
                started = time.perf_counter()
                data = report.gather(week_start, zone=zone, now=now)
                gathered = time.perf_counter()
                html = report.render_html(data, report.default_language())
                rendered = time.perf_counter()
                pdf = report.html_to_pdf(html)
                done = time.perf_counter()
                runs.append({"total": done - started, "gather": gathered - started, "render": rendered - gathered,
                             "pdf": done - rendered, "peak_mb": pdf.peak_rss_mb or 0.0})
                db.session.rollback()
            reader = PdfReader(io.BytesIO(pdf.data))
            figures.update(
                breaches=data["current"]["breaches"], breach_rows=len(data["breaches"]), pages=len(reader.pages),
                bytes=len(pdf.data), html_bytes=len(html.encode()),
                **{key: statistics.median(r[key] for r in runs) for key in ("total", "gather", "render", "pdf")},
                peak_mb=max(r["peak_mb"] for r in runs))
            db.session.remove()
            db.engine.dispose()
    finally:
        remove_database(work)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--moments", type=int, default=1_000_000, help="The cached database's moments")
    parser.add_argument("--allow-stale", action="store_true",
                        help="Reuse a cached database built from older sources instead of rebuilding it")
    args = parser.parse_args(argv)
    f = run(args.repeat, args.moments, args.allow_stale)
    time_ok, memory_ok = f["total"] <= TARGET_SECONDS, f["peak_mb"] <= TARGET_MB
    lines = [
        f"Weekly report benchmark (SQLite, 100,000 customers, {f['moments']:,} moments; week of {f['week']},"
        f" {f['moved']} commitments moved into it as breached)",
        f"breaches in the week {f['breaches']:,}, rows in the table {f['breach_rows']:,}, "
        f"{f['pages']} pages, PDF {f['bytes'] / 1024:.0f} kB, HTML {f['html_bytes'] / 1024:.0f} kB",
        f"daily rollup built beforehand (as the scheduler keeps it): {f['rollup_days']} days in"
        f" {f['rollup_seconds']:.1f} s",
        f"{'step':28} {'median s':>9}",
        f"{'gather the figures':28} {f['gather']:9.2f}",
        f"{'render the HTML':28} {f['render']:9.2f}",
        f"{'PDF in the child process':28} {f['pdf']:9.2f}",
        f"{'end to end':28} {f['total']:9.2f}  target <= {TARGET_SECONDS:.0f} s  {'PASS' if time_ok else 'FAIL'}",
        f"{'child peak memory (MB)':28} {f['peak_mb']:9.0f}  target <= {TARGET_MB:.0f} MB  "
        f"{'PASS' if memory_ok else 'FAIL'}",
    ]
    text = "\n".join(lines)
    print(text)
    (DATA_DIR / "last-report.txt").write_text(text + "\n")
    return 0 if time_ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
