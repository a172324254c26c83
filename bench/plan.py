"""Follow-up planning at scale (issue 4): one planning run over 100,000 customers.

    .venv/bin/python -m bench.plan

Works on a copy of the cached 100,000-customer / 1,000,000-moment database (the demo
business, with its four follow-up rules). "Now" is set so that the renewal and
quiet-customer rules find thousands of candidates; a planning run writes at most
5,000 messages in committed steps of 500. Figures: the whole run, the longest step
(the longest SQLite holds its write lock for a step's inserts is part of it), the
messages written, and an idle run once nothing is left to write.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import datetime, timezone

from bench import DATA_DIR
from bench.generate import ensure_database, make_app, remove_database


def run(log=print) -> dict:
    from crm.extensions import db
    from crm.followups import jobs, services
    from crm.followups.services import plan_followups

    cached, _ = ensure_database(100_000, 1_000_000, log=log)
    work = DATA_DIR / "plan-work.db"
    remove_database(work)
    shutil.copyfile(cached, work)
    app = make_app(work)
    now = datetime.now(timezone.utc)
    steps = []
    with app.app_context():
        real = plan_followups

        def timed(when, limit):
            started = time.perf_counter()
            written = real(when, limit=limit)
            steps.append(time.perf_counter() - started)
            return written

        started = time.perf_counter()
        services.plan_followups = timed  # jobs.plan looks it up on each call
        try:
            written = jobs.plan(now)
        finally:
            services.plan_followups = real
        whole = time.perf_counter() - started
        runs = 0
        while jobs.plan(now) and runs < 100:  # drain the rest
            runs += 1
        idle = []
        for _ in range(5):
            started = time.perf_counter()
            assert jobs.plan(now) == 0
            idle.append((time.perf_counter() - started) * 1000)
        db.session.remove()
    remove_database(work)
    return {"written": written, "whole_s": whole, "steps": steps, "idle_ms": statistics.median(idle)}


def main(argv=None) -> int:
    argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__.splitlines()[0]).parse_args(argv)
    f = run()
    text = "\n".join([
        "Follow-up planning (SQLite, 100,000 customers, the demo's four rules)",
        f"  one run: {f['written']:,} messages written in {f['whole_s']:.2f} s "
        f"({f['written'] / f['whole_s']:,.0f} messages/s), {len(f['steps'])} steps, "
        f"longest step {max(f['steps']):.2f} s",
        f"  idle run (nothing left to write), median of 5: {f['idle_ms']:.0f} ms",
    ])
    print(text)
    (DATA_DIR / "last-plan.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
