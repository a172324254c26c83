"""Build a SQLite database of realistic Spanish-language demo data at a given scale.

    .venv/bin/python -m bench.generate --customers 100000 --moments 1000000

The schema comes from the migrations (`flask db upgrade`), the business (teams,
staff, moment-type catalog) from `crm.demo.seed.seed_demo`, and the customers,
stage histories, contacts and commitments from the same generator the demo uses
(`crm.demo.seed.load_customers_and_moments`, Faker es_ES/es_MX), with the same
seed: the data is what `crm seed-demo --customers N --moments M` would load.

Databases are cached by scale in bench/.data/bench-<N>c-<M>m.db, next to a
.json file that records how and from which sources it was built; a cache whose
migrations or generated data (checked on a small sample) changed since is
rebuilt, so a benchmark never measures a stale schema.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import DATA_DIR, PROJECT_DIR

DEFAULT_SEED = 20261122  # the seed `crm seed-demo` uses
SECRET_KEY = "bench-only-not-secret"
# A cached database is stale when the schema or the generated data would differ.
MIGRATIONS = "migrations/versions"
SAMPLE_NOW = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)


def database_path(customers: int, moments: int) -> Path:
    return DATA_DIR / f"bench-{customers}c-{moments}m.db"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def sources_fingerprint(seed: int) -> str:
    """What the cache depends on: the migrations, and a sample of what the demo
    generator produces with this seed (customers, search terms, histories, contacts,
    commitments and purchases). Edits that change neither keep the cache."""
    from crm.demo import catalog
    from crm.demo.generator import DemoGenerator

    digest = hashlib.sha256(f"seed={seed}".encode())
    for file in sorted((PROJECT_DIR / MIGRATIONS).glob("*.py")):
        digest.update(file.name.encode())
        digest.update(file.read_bytes())
    types = demo_type_infos()
    staff_ids = list(range(2, len(catalog.STAFF) + 1))
    generator = DemoGenerator(now=SAMPLE_NOW, staff_ids=staff_ids, types=types, seed=seed)
    infos = []
    for customers, terms, changes, batch_infos in generator.customers(300):
        infos.extend(batch_infos)
        digest.update(repr((customers, terms, changes)).encode())
    for batch in generator.moments(infos, 1000):
        digest.update(repr(batch).encode())
    for batch in generator.purchases(infos):
        digest.update(repr(batch).encode())
    return digest.hexdigest()[:16]


def demo_type_infos():
    """What `crm.demo.seed.type_infos` hands the generator after `seed_demo`, without a
    database: the catalog's moment types (ids in catalog order), each on the demo's one
    calendar (the default, id 1) as `crm.calendars.services.arithmetic` builds it."""
    from datetime import date
    from decimal import Decimal

    from crm.demo import catalog
    from crm.demo.generator import TypeInfo
    from crm.sla import BusinessCalendar

    spec = catalog.CALENDAR
    calendar = BusinessCalendar(spec["timezone"], {int(day): spans for day, spans in spec["hours"].items()},
                                holidays=[date.fromisoformat(d) for d in spec.get("closures") or []],
                                country=spec.get("country"), subdivision=spec.get("subdivision"))
    return [TypeInfo(id=i, code=spec["code"], phase=spec["phase"], channel=spec["channel"],
                     cost=Decimal(spec["cost"]),
                     levels={level["tier"]: (level["first_response_hours"], level["resolution_hours"])
                             for level in spec["levels"]},
                     calendar=calendar, calendar_id=1, warn_ratio=Decimal(spec.get("warn_ratio", "0.75")))
            for i, spec in enumerate(catalog.MOMENT_TYPES, start=1)]


def make_app(path: Path, **overrides):
    """The app as `make run` configures it (CRM_ENV=development), on the given file."""
    from crm import create_app

    config = {
        "CRM_ENV": "development",
        "SECRET_KEY": SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
    }
    config.update(overrides)
    return create_app(config)


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


class _Progress:
    """Prints how far the load is and commits each batch, so the WAL stays small."""

    def __init__(self, totals: dict[str, int], log):
        self.totals, self.log = totals, log
        self.started = time.perf_counter()
        self.next_report = {kind: 0 for kind in totals}

    def __call__(self, kind: str, done: int) -> None:
        from crm.extensions import db

        db.session.commit()
        total = self.totals[kind]
        if done >= self.next_report[kind] or done >= total:
            self.next_report[kind] = done + max(total // 10, 1)
            self.log(f"  {kind}: {done:,}/{total:,} ({time.perf_counter() - self.started:.0f} s)")


def build_database(path: Path, *, customers: int, moments: int, seed: int = DEFAULT_SEED,
                   log=print) -> dict:
    """Create the schema and load the data into a new file at `path` (atomically)."""
    import flask_migrate
    from sqlalchemy import select, text

    from crm.auth.models import User
    from crm.demo.seed import load_customers_and_moments, seed_demo
    from crm.extensions import db
    from crm.moments.models import MomentType
    from crm.types import utc_now

    # Taken before building: sources edited while it runs must make this cache stale, not fresh.
    sources = sources_fingerprint(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    remove_database(tmp)
    started = time.perf_counter()
    log(f"generating {path.name}: {customers:,} customers, {moments:,} moments (seed {seed})")
    app = make_app(tmp)
    with app.app_context():
        flask_migrate.upgrade()
        now = utc_now()
        # The business only; customers and contacts follow in committed batches.
        seed_demo(customers=0, moments=0, seed=seed, now=now)
        db.session.commit()
        # What seed_demo passes to load_customers_and_moments, so the data is the demo's.
        staff_ids = list(db.session.scalars(select(User.id).where(User.role != "admin").order_by(User.id)))
        types = list(db.session.scalars(select(MomentType).order_by(MomentType.id)))
        summary = load_customers_and_moments(
            now=now, seed=seed, customers=customers, moments=moments, staff_ids=staff_ids,
            types=types, progress=_Progress({"customers": customers, "moments": moments}, log))
        db.session.commit()
        # A database in service has statistics (the scheduler's maintenance runs PRAGMA
        # optimize hourly): measure with them, not with a planner guessing.
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.session.remove()
        db.engine.dispose()
    seconds = time.perf_counter() - started
    remove_database(path)
    os.replace(tmp, path)
    remove_database(tmp)
    info = {
        "customers": customers, "moments": moments, "seed": seed, "generated_at": now.isoformat(),
        "seconds": round(seconds, 1), "bytes": path.stat().st_size, "loaded": summary,
        "sources": sources,
    }
    _sidecar(path).write_text(json.dumps(info, indent=2))
    log(f"generated {path.name} in {seconds:.1f} s ({info['bytes'] / 2**20:,.0f} MiB): "
        + ", ".join(f"{v:,} {k}" for k, v in summary.items()))
    return info


def ensure_database(customers: int, moments: int, *, seed: int = DEFAULT_SEED, force: bool = False,
                    allow_stale: bool = False, log=print) -> tuple[Path, dict]:
    """The cached database for this scale, built first when missing or stale."""
    path = database_path(customers, moments)
    sidecar = _sidecar(path)
    if path.exists() and sidecar.exists() and not force:
        info = json.loads(sidecar.read_text())
        fresh = info.get("sources") == sources_fingerprint(seed) and info.get("seed") == seed
        if fresh or allow_stale:
            note = "" if fresh else " (STALE: its sources changed since; reused on request)"
            log(f"reusing {path.name}, generated {info['generated_at'][:16]} in {info['seconds']} s{note}")
            return path, info
        log(f"{path.name} was built from older sources: rebuilding it")
    return path, build_database(path, customers=customers, moments=moments, seed=seed, log=log)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--moments", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--force", action="store_true", help="rebuild even when a fresh cache exists")
    args = parser.parse_args(argv)
    path, _ = ensure_database(args.customers, args.moments, seed=args.seed, force=args.force,
                              log=lambda line: print(line, flush=True))
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
