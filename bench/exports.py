"""Streaming exports at scale (issue 6): rows per second and peak memory.

    .venv/bin/python -m bench.exports [--skip-web] [--backup]

Works on a copy of the cached 100,000-customer / 1,000,000-moment database (never on the
cache itself, and never rebuilding it: run `python -m bench.generate` first), brought up
to the current migrations. Exports every moment and every customer through the service
(`Export.chunks`, what the CLI writes), one month of moments with a date filter, and all
moments through `GET /exports/moments.csv` with the Flask test client, reading the
streamed answer chunk by chunk. For each: rows, seconds, rows/s, and the process's peak
resident memory during that export (Linux: VmHWM reset through /proc/self/clear_refs)
against its resident memory before it. With --backup also times `crm backup` of the copy.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from bench import DATA_DIR
from bench.generate import database_path, make_app, remove_database

CUSTOMERS, MOMENTS = 100_000, 1_000_000


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _measure(name: str, chunks, log) -> tuple:
    _reset_peak()
    before = _status_kb("VmRSS")
    started = time.perf_counter()
    size = lines = 0
    for chunk in chunks:
        size += len(chunk)
        lines += chunk.count(b"\r\n")
    seconds = time.perf_counter() - started
    rows = lines - 1  # the header (notes may hold line breaks of their own: \n, not \r\n)
    peak = _status_kb("VmHWM")
    row = (name, rows, seconds, rows / seconds if seconds else 0.0, size / 1e6, before / 1024, peak / 1024)
    log(f"{name:42} {rows:>9,} rows {seconds:7.1f} s {row[3]:>9,.0f} rows/s {row[4]:7.1f} MB "
        f"RSS before {row[5]:6.0f} MB, peak {row[6]:6.0f} MB")
    return row


def run(skip_web: bool = False, with_backup: bool = False, log=print) -> list[tuple]:
    import flask_migrate
    from sqlalchemy import func, select

    from crm.exports.csvstream import EXCEL, PLAIN
    from crm.exports.services import prepare_export
    from crm.extensions import db
    from crm.moments.models import Moment

    cached = database_path(CUSTOMERS, MOMENTS)
    if not cached.exists():
        raise SystemExit(f"{cached} is missing: build it with `python -m bench.generate` first")
    work = DATA_DIR / "exports-work.db"
    remove_database(work)
    shutil.copyfile(cached, work)
    app = make_app(work, WTF_CSRF_ENABLED=False)
    rows = []
    try:
        with app.app_context():
            started = time.perf_counter()
            flask_migrate.upgrade()
            log(f"copy upgraded to the current migrations in {time.perf_counter() - started:.1f} s")
            zone = app.config["BABEL_DEFAULT_TIMEZONE"]
            newest = db.session.scalar(select(func.max(Moment.occurred_at)))
            month = {"from": newest.date().replace(day=1).isoformat(), "to": newest.date().isoformat()}
            for name, entity, args, form in (
                    ("moments, all (service, csv)", "moments", {}, PLAIN),
                    ("moments, all (service, excel)", "moments", {}, EXCEL),
                    ("moments, this month (service)", "moments", month, PLAIN),
                    ("customers, all (service)", "customers", {}, PLAIN)):
                with app.test_request_context():
                    job = prepare_export(None, entity, args, newest, zone=zone, form=form, via="bench")
                    rows.append(_measure(name, job.chunks(form), log))
                    db.session.rollback()  # no audit rows in the copy
        if not skip_web:
            client = app.test_client()
            response = client.post("/login", data={"email": "supervisor@demo.local", "password": "demo"})
            assert response.status_code == 302, response.status_code
            response = client.get("/exports/moments.csv")
            assert response.status_code == 200 and response.is_streamed
            rows.append(_measure("GET /exports/moments.csv (test client)", response.response, log))
        if with_backup:
            out = DATA_DIR / "exports-work-backup.db"
            remove_database(out)
            started = time.perf_counter()
            result = app.test_cli_runner().invoke(args=["crm", "backup", "--out", str(out)])
            assert result.exit_code == 0, result.output
            log(f"crm backup of the copy ({out.stat().st_size / 1e6:,.0f} MB): "
                f"{time.perf_counter() - started:.1f} s")
            remove_database(out)
        with app.app_context():
            db.engine.dispose()
    finally:
        remove_database(work)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exports", description=__doc__.splitlines()[0])
    parser.add_argument("--skip-web", action="store_true", help="Only the service, not the page")
    parser.add_argument("--backup", action="store_true", help="Also time `crm backup` of the copy")
    args = parser.parse_args(argv)
    lines = ["Export benchmark (SQLite, 100,000 customers, 1,000,000 moments)"]
    run(args.skip_web, args.backup, log=lambda line: (print(line, flush=True), lines.append(line)))
    (DATA_DIR / "last-exports.txt").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
