"""Sweep benchmark (issue 3): one sweep over a million commitments, 10,000 of them newly due.

    .venv/bin/python -m bench.sweep [--due 10000]

Works on a copy of the cached 100,000-customer / 1,000,000-moment database
(bench.generate builds it when missing). On the copy every open commitment is moved
into the future, then `--due` of them are made due an hour ago, and a compensation
policy covers every breach, so the sweep breaks, flags and proposes for each.
Targets: the sweep, compensation proposals included, in at most 2 s; an idle sweep
(nothing due) in at most 20 ms; on SQLite.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

from bench import DATA_DIR
from bench.generate import ensure_database, make_app, remove_database

TARGET_SWEEP_S = 2.0
TARGET_IDLE_MS = 20.0


def prepare(app, due: int, now: datetime) -> int:
    from sqlalchemy import func, select, text, update

    from crm.auth.models import User
    from crm.compensations.models import CompensationPolicy
    from crm.compensations.services import save_policy
    from crm.extensions import db
    from crm.moments.models import Commitment

    with app.app_context():
        future = now + timedelta(days=60)
        db.session.execute(update(Commitment).where(Commitment.status == "open")
                           .values(due_at=future, warn_at=future, warned_at=None))
        open_count = db.session.scalar(select(func.count()).select_from(Commitment).where(Commitment.status == "open"))
        if open_count < due:  # reopen settled ones until enough can fall due
            db.session.execute(text(
                "UPDATE commitments SET status='open', met_at=NULL, met_by_id=NULL, due_at=:f, warn_at=:f "
                "WHERE id IN (SELECT id FROM commitments WHERE status='met' LIMIT :n)"),
                {"f": future.replace(tzinfo=None), "n": due - open_count})
        chosen = db.session.scalars(select(Commitment.id).where(Commitment.status == "open")
                                    .order_by(func.random()).limit(due)).all()
        for start in range(0, len(chosen), 5000):
            db.session.execute(update(Commitment).where(Commitment.id.in_(chosen[start:start + 5000]))
                               .values(due_at=now - timedelta(hours=1), warn_at=now - timedelta(hours=2)))
        if db.session.scalar(select(func.count()).select_from(CompensationPolicy)) == 0:
            admin = db.session.scalar(select(User).where(User.role == "admin"))
            save_policy(admin, None, {"kind": "discount", "value": "10", "escalate_after": 3,
                                      "escalated_value": "20", "cap_value": "100"}, now)
        db.session.commit()
        total = db.session.scalar(select(func.count()).select_from(Commitment))
    return total


def run(due: int, log=print) -> dict:
    from crm.extensions import db
    from crm.moments.sweep import sweep_commitments

    cached, info = ensure_database(100_000, 1_000_000, log=log)
    work = DATA_DIR / "sweep-work.db"
    remove_database(work)
    shutil.copyfile(cached, work)
    app = make_app(work)
    now = datetime(2027, 1, 4, 10, 0, tzinfo=timezone.utc)
    total = prepare(app, due, now)
    log(f"{total:,} commitments; {due:,} made due for this sweep")
    with app.app_context():
        started = time.perf_counter()
        result = sweep_commitments(now)
        db.session.commit()
        full = time.perf_counter() - started
        idle = []
        for _ in range(30):
            started = time.perf_counter()
            again = sweep_commitments(now)
            db.session.commit()
            idle.append((time.perf_counter() - started) * 1000)
            assert again.breached == again.at_risk == again.proposed == 0
        db.session.remove()
    remove_database(work)
    return {"commitments": total, "due": due, "result": result, "sweep_s": full,
            "idle_ms": statistics.median(idle), "idle_p95_ms": sorted(idle)[int(len(idle) * 0.95)]}


def report(figures: dict) -> tuple[str, bool]:
    r = figures["result"]
    ok_sweep = figures["sweep_s"] <= TARGET_SWEEP_S and r.breached == figures["due"]
    ok_idle = figures["idle_ms"] <= TARGET_IDLE_MS
    lines = [
        "Sweep benchmark (SQLite, one process)",
        f"  commitments in the table:        {figures['commitments']:,}",
        f"  newly due:                       {figures['due']:,}",
        f"  sweep: breached {r.breached:,}, at risk {r.at_risk:,}, compensations proposed {r.proposed:,}, "
        f"issued {r.issued:,}",
        f"  sweep with proposals:            {figures['sweep_s']:.2f} s   (target <= {TARGET_SWEEP_S} s)  "
        f"{'PASS' if ok_sweep else 'FAIL'}",
        f"  idle sweep, median of 30:        {figures['idle_ms']:.2f} ms (p95 {figures['idle_p95_ms']:.2f})  "
        f"(target <= {TARGET_IDLE_MS} ms)  {'PASS' if ok_idle else 'FAIL'}",
    ]
    return "\n".join(lines), ok_sweep and ok_idle


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=10_000)
    args = parser.parse_args(argv)
    text, ok = report(run(args.due))
    print(text)
    (DATA_DIR / "last-sweep.txt").write_text(text + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
