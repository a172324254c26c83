"""Insight at scale (issue 5): the dashboard, the metrics endpoint and page, and the
journey map with 100,000 customers and 1,000,000 moments.

    .venv/bin/python -m bench.insights [--repeat 15] [--allow-stale]

Works on a copy of the cached 100,000-customer / 1,000,000-moment database, brought up
to the current migrations; "now" is its newest contact, so the last 30 days are full of
data. First builds the daily rollup from nothing, as the scheduler does after an upgrade
(timed and printed), then marks one day of the period changed (as any write does: that
day is counted live), and times the metrics service (both periods, every figure),
`GET /api/v1/metrics`, the `/insights/metrics` page, the dashboard and the journey map,
with and without a segment filter, through the Flask test client (server time, in
process). Target: <= 150 ms each (median) for the dashboard and the metrics endpoint.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time

from bench import DATA_DIR
from bench.generate import ensure_database, make_app, remove_database

TARGET_MS = 150.0


def _median_ms(call, repeat: int) -> tuple[float, float]:
    call()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def run(repeat: int, allow_stale: bool = False, log=print) -> list[tuple[str, float, float]]:
    import flask_migrate
    from sqlalchemy import func, select

    from crm.auth.models import User
    from crm.auth.services import issue_token
    from crm.extensions import db
    from crm.insights import rollup
    from crm.insights.services import metrics_report
    from crm.moments.models import Moment

    cached, _ = ensure_database(100_000, 1_000_000, allow_stale=allow_stale, log=log)
    work = DATA_DIR / "insights-work.db"
    remove_database(work)
    shutil.copyfile(cached, work)
    app = make_app(work, WTF_CSRF_ENABLED=False)
    rows = []
    with app.app_context():
        flask_migrate.upgrade()
        newest = db.session.scalar(select(func.max(Moment.occurred_at)))
        started = time.perf_counter()
        days = rollup.refresh_all(newest, db.session.commit)
        log(f"daily rollup built from nothing: {days} days in {time.perf_counter() - started:.1f} s")
        # A write today: that day is counted live, as it is between two refreshes.
        rollup.mark_instants([newest])
        db.session.commit()
        supervisor = db.session.scalar(select(User).where(User.email == "supervisor@demo.local"))
        _, token = issue_token(None, supervisor, "bench", newest)
        db.session.commit()
        zone = app.config["BABEL_DEFAULT_TIMEZONE"]
        with app.test_request_context():
            for name, filters in (("metrics service, no filter", {}), ("metrics service, segment filter",
                                                                        {"segment": "Particular"})):
                median, p90 = _median_ms(lambda f=filters: metrics_report(None, None, f, zone=zone, now=newest),
                                         repeat)
                rows.append((name, median, p90))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for name, url in (("GET /api/v1/metrics", "/api/v1/metrics"),
                      ("GET /api/v1/metrics?segment=…", "/api/v1/metrics?segment=Particular")):
        def call(url=url):
            response = client.get(url, headers=headers)
            assert response.status_code == 200, response.text
        rows.append((name, *_median_ms(call, repeat)))
    client.post("/login", data={"email": "supervisor@demo.local", "password": "demo"})

    def page():
        response = client.get("/insights/metrics")
        assert response.status_code == 200, (response.status_code, response.headers.get("Location"))
    rows.append(("GET /insights/metrics (page)", *_median_ms(page, repeat)))
    for name, url in (("GET /insights/ (dashboard)", "/insights/"),
                      ("GET /insights/journey", "/insights/journey"),
                      ("GET /insights/journey?segment=…", "/insights/journey?segment=Particular")):
        def get(url=url):
            response = client.get(url)
            assert response.status_code == 200, (response.status_code, response.headers.get("Location"))
        rows.append((name, *_median_ms(get, repeat)))
    with app.app_context():
        db.engine.dispose()
    remove_database(work)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.insights", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--allow-stale", action="store_true",
                        help="Reuse a cached database built from older sources (it is upgraded) instead of rebuilding it")
    args = parser.parse_args(argv)
    rows = run(args.repeat, args.allow_stale)
    lines = ["Insight benchmark (SQLite, 100,000 customers, 1,000,000 moments; last 30 days vs the 30 before)",
             f"{'operation':40} {'median ms':>10} {'p90 ms':>8}  target <= {TARGET_MS:.0f} ms"]
    ok = True
    for name, median, p90 in rows:
        passed = median <= TARGET_MS
        ok &= passed
        lines.append(f"{name:40} {median:10.1f} {p90:8.1f}  {'PASS' if passed else 'FAIL'}")
    text = "\n".join(lines)
    print(text)
    (DATA_DIR / "last-insights.txt").write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
