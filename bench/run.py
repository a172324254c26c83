"""Measure the server time of the everyday requests at two scales and print the figures.

    .venv/bin/python -m bench.run          (what `make bench` runs)

Target (the issue): with 100,000 customers and 1,000,000 moments on SQLite, the
median server time of the customer search, the customer page and logging a
moment through the API is at most 15 ms, and each grows by less than 30% from
10,000 to 1,000,000 moments.

Both databases come from `bench.generate` (cached in bench/.data/). Each run works
on a fresh copy, because logging moments writes rows. Requests go through the
whole Flask stack in process (the test client): login session and CSRF-protected
login form, bearer-token authentication, views, services, templates and the JSON
schemas; the time is taken around each `client.get/post`, so it is the server's
time without network or browser. The two scales are measured in interleaved
rounds, so a background load slows both alike instead of skewing the growth.

Like for like at both scales:

* The customer page is judged on probe customers (bench/probes.py): 50 customers
  with one identical history (about 25 contacts, their stage changes and
  commitments), added to both working copies, so both scales render the same page
  and only the rest of the database grows. Random customers are measured too, as
  information: at 10,000 moments they have almost no contacts, at 1,000,000 about
  ten, so their growth compares two different pages.
* Logging a moment sends the same payloads at both scales (same customers, types,
  notes, outcomes); it is judged on the median of all of them. One in five is a
  follow-up of an earlier contact drawn at random from the whole table, which is
  not the same row at both scales: that subset is shown on its own line, with how
  many contacts and open commitments the followed incidents have at each scale.

After the HTTP figures, bench.run runs the business-time benchmark of issue 3
(bench/sla.py: crm.sla against businesstimedelta); `--no-sla` leaves it out and
`python -m bench.sla` runs it alone.
"""
from __future__ import annotations

import argparse
import collections
import gc
import math
import multiprocessing
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone

from bench import DATA_DIR
from bench.generate import DEFAULT_SEED, ensure_database, make_app, remove_database
from bench.probes import PROBES, insert_probes

TARGET_MEDIAN_MS = 15.0
TARGET_GROWTH = 0.30
AGENT_EMAIL = "agent@demo.local"


@dataclass(frozen=True)
class Operation:
    key: str
    title: str
    request: str
    expected_status: int
    judged: bool = True  # counts towards the result; others are shown as information


OPERATIONS = (
    Operation("search_page", "customer search (page)", "GET /customers?q=", 200),
    Operation("search_api", "customer search (API)", "GET /api/v1/customers?q=", 200),
    Operation("customer_page", "customer page, probes", "GET /customers/<probe>", 200),
    Operation("customer_page_random", "customer page, random", "GET /customers/<id>", 200, judged=False),
    Operation("log_moment", "log a moment (API)", "POST /api/v1/moments", 201),
)

# What people type into the search box, each drawn from a real customer's data.
QUERY_KINDS = ("surname prefix", "full name", "name + surname prefix", "short prefix",
               "email prefix", "phone digits")
QUERY_EXAMPLES = {"surname prefix": "garc", "full name": "maría lópez",
                  "name + surname prefix": "maría lóp", "short prefix": "mar",
                  "email prefix": "maria.lopez12@gm", "phone digits": "612 345"}


def _query(kind: str, name: str, email: str | None, phone: str | None) -> str | None:
    from crm.customers.search import phone_digits

    words = name.lower().split()
    first, surname = words[0], words[-2] if len(words) > 2 else words[-1]
    if kind == "surname prefix":
        return surname[:4]
    if kind == "full name":
        return f"{first} {surname}"
    if kind == "name + surname prefix":
        return f"{first} {surname[:3]}"
    if kind == "short prefix":
        return first[:3]
    if kind == "email prefix":
        if not email:
            return None
        local, _, domain = email.partition("@")
        return f"{local}@{domain[:2]}"
    if kind == "phone digits":
        digits = phone_digits(phone or "")
        if len(digits) < 9:
            return None
        national = digits[-9:]  # the number as dialled at home, without the country code
        return f"{national[:3]} {national[3:6]}"
    raise ValueError(kind)


@dataclass
class Workload:
    """The requests of one run, drawn with a fixed seed: the same customers and
    queries at both scales, since both databases hold the same customers."""

    searches: list[tuple[str, str]] = field(default_factory=list)  # (kind, q)
    customer_ids: list[int] = field(default_factory=list)
    moments: list[dict] = field(default_factory=list)
    contacts_per_page: float = 0.0
    max_contacts: int = 0
    timeline_entries: float = 0.0
    probe_ids: list[int] = field(default_factory=list)
    probes: str = ""
    # Follow-ups: contacts of the followed incident, open commitments the follow-up closes.
    follow_contacts: float = 0.0
    follow_open: float = 0.0


class Scale:
    """One database at one scale, its app, a logged-in browser session and an API token."""

    def __init__(self, name: str, customers: int, moments: int, args, log):
        self.name, self.customers, self.moments = name, customers, moments
        cache, self.info = ensure_database(customers, moments, seed=args.seed,
                                           allow_stale=args.allow_stale, log=log)
        self.work = DATA_DIR / f"work-{cache.stem}.db"
        remove_database(self.work)
        shutil.copyfile(cache, self.work)
        self.app = make_app(self.work)
        self.client = self.app.test_client()
        self._login()
        self.auth = {"Authorization": f"Bearer {self._issue_token()}"}
        self.workload = self._draw_workload(args.warmup + args.requests, args.seed)
        # After the draw, so the random workload is what it was without them.
        with self.app.app_context():
            probes = insert_probes(args.probe_now)
        self.workload.probe_ids, self.workload.probes = probes.customer_ids, probes.describe()
        log(f"added {probes.describe()}")

    def _login(self) -> None:
        """Through the real login form, CSRF token included, like a browser."""
        from crm.demo.seed import DEMO_PASSWORD

        page = self.client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        response = self.client.post("/login", data={
            "csrf_token": token.group(1) if token else "", "email": AGENT_EMAIL, "password": DEMO_PASSWORD})
        if response.status_code != 302:
            raise SystemExit(f"{self.name}: logging in as {AGENT_EMAIL} failed ({response.status_code})")

    def _issue_token(self) -> str:
        from sqlalchemy import select

        from crm.auth.models import User
        from crm.auth.services import issue_token
        from crm.extensions import db
        from crm.types import utc_now

        with self.app.app_context():
            agent = db.session.scalar(select(User).where(User.email == AGENT_EMAIL))
            _, secret = issue_token(None, agent, "benchmark", utc_now())
            db.session.commit()
        return secret

    def _draw_workload(self, count: int, seed: int) -> Workload:
        from sqlalchemy import func, select

        from crm.customers.models import Customer, StageChange
        from crm.demo.catalog import NOTES
        from crm.extensions import db
        from crm.moments.models import OPEN_STATUSES, Commitment, Moment, MomentType

        rng = random.Random(seed)
        work = Workload()
        with self.app.app_context():
            ids = list(db.session.scalars(select(Customer.id).order_by(Customer.id)))
            while len(work.searches) < count:
                kind = QUERY_KINDS[len(work.searches) % len(QUERY_KINDS)]
                row = db.session.execute(select(Customer.name, Customer.email, Customer.phone)
                                         .where(Customer.id == rng.choice(ids))).one()
                q = _query(kind, *row)
                if q:
                    work.searches.append((kind, q))
            work.customer_ids = [rng.choice(ids) for _ in range(count)]
            counts = dict(db.session.execute(
                select(Moment.customer_id, func.count()).where(Moment.customer_id.in_(set(work.customer_ids)))
                .group_by(Moment.customer_id)).all())
            work.contacts_per_page = sum(counts.get(i, 0) for i in work.customer_ids) / count
            work.max_contacts = max(counts.values(), default=0)
            # Everything the timeline lists: contacts, stage changes and commitments met.
            viewed = set(work.customer_ids)
            entries: collections.Counter = collections.Counter()
            for column, *where in ((Moment.customer_id,), (StageChange.customer_id,),
                                   (Commitment.customer_id, Commitment.met_at.is_not(None))):
                entries.update(dict(db.session.execute(
                    select(column, func.count()).where(column.in_(viewed), *where).group_by(column)).all()))
            work.timeline_entries = sum(entries.get(i, 0) for i in work.customer_ids) / count
            codes = list(db.session.scalars(select(MomentType.code).where(MomentType.active.is_(True))
                                            .order_by(MomentType.id)))
            last_moment = db.session.scalar(select(func.max(Moment.id))) or 0
            follow_contacts, follow_open = [], []
            for i in range(count):
                code = rng.choice(codes)
                payload = {"customer_id": rng.choice(ids), "moment_type": code,
                           "notes": rng.choice(NOTES.get(code) or ["Llamada de seguimiento."]),
                           "emotion": rng.choice([-2, -1, 0, 1, 1, 2, 2, None]),
                           "outcome": rng.choice(["pending", "resolved", "resolved"])}
                if i % 5 == 4 and last_moment:
                    # A second contact about an earlier matter: joins its incident and
                    # answers its commitments.
                    earlier = db.session.get(Moment, rng.randint(1, last_moment))
                    if earlier is not None:
                        payload.update(customer_id=earlier.customer_id, follows_moment_id=earlier.id,
                                       moment_type=earlier.moment_type.code)
                        # What the follow-up will touch (as crm.moments.services._answer_incident).
                        contacts = list(db.session.scalars(select(Moment.id).where(
                            Moment.incident_id == (earlier.incident_id or earlier.id))))
                        kinds = ["first_response"] + (["resolution"] if payload["outcome"] == "resolved" else [])
                        follow_contacts.append(len(contacts))
                        follow_open.append(db.session.scalar(select(func.count()).select_from(Commitment).where(
                            Commitment.moment_id.in_(contacts), Commitment.kind.in_(kinds),
                            Commitment.status.in_(OPEN_STATUSES))))
                work.moments.append(payload)
            if follow_contacts:
                work.follow_contacts = statistics.mean(follow_contacts)
                work.follow_open = statistics.mean(follow_open)
        return work

    def send(self, op: Operation, i: int):
        """One request of `op`; answers (server milliseconds, response)."""
        if op.key == "search_page":
            call = lambda: self.client.get("/customers", query_string={"q": self.workload.searches[i][1]})
        elif op.key == "search_api":
            call = lambda: self.client.get("/api/v1/customers", headers=self.auth,
                                           query_string={"q": self.workload.searches[i][1]})
        elif op.key == "customer_page":
            probe = self.workload.probe_ids[i % len(self.workload.probe_ids)]
            call = lambda: self.client.get(f"/customers/{probe}")
        elif op.key == "customer_page_random":
            call = lambda: self.client.get(f"/customers/{self.workload.customer_ids[i]}")
        else:
            call = lambda: self.client.post("/api/v1/moments", headers=self.auth, json=self.workload.moments[i])
        started = time.perf_counter()
        response = call()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != op.expected_status:
            raise SystemExit(f"{self.name}: {op.request} #{i} answered {response.status_code}: "
                             f"{response.get_data(as_text=True)[:500]}")
        return elapsed, response

    def run(self, op_key: str, start: int, stop: int) -> list[tuple[float, str | None, int | None]]:
        """Requests start..stop-1 of one operation: (ms, kind of query, customers found)."""
        op = next(o for o in OPERATIONS if o.key == op_key)
        gc.collect()
        out = []
        for i in range(start, stop):
            ms, response = self.send(op, i)
            if op.key.startswith("search"):
                kind = self.workload.searches[i][0]
            elif op.key == "log_moment":
                kind = "follow-up" if "follows_moment_id" in self.workload.moments[i] else "new matter"
            else:
                kind = None
            hits = response.get_json()["total"] if op.key == "search_api" else None
            out.append((ms, kind, hits))
        return out

    def close(self, keep: bool) -> None:
        from crm.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        if not keep:
            remove_database(self.work)


def _serve(conn, name: str, customers: int, moments: int, args: argparse.Namespace) -> None:
    """A worker process owns one scale: `create_app` can run only once per process
    (crm/api registers its before_request hook on module-level blueprints)."""
    def log(line: str) -> None:
        print(f"[{name}] {line}", file=sys.stderr, flush=True)

    try:
        scale = Scale(name, customers, moments, args, log)
        w = scale.workload
        conn.send(("ok", {"info": scale.info, "contacts_per_page": w.contacts_per_page,
                          "max_contacts": w.max_contacts, "timeline_entries": w.timeline_entries,
                          "probes": w.probes, "follow_contacts": w.follow_contacts,
                          "follow_open": w.follow_open}))
        while True:
            command, *params = conn.recv()
            if command == "close":
                scale.close(*params)
                conn.send(("ok", None))
                return
            conn.send(("ok", scale.run(*params)))
    except BaseException:  # noqa: BLE001 - the parent reports it
        conn.send(("error", traceback.format_exc()))


class ScaleProcess:
    """The parent's handle on a worker process measuring one scale."""

    def __init__(self, name: str, customers: int, moments: int, args):
        self.name, self.customers, self.moments = name, customers, moments
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, name, customers, moments, args),
                                       name=f"bench-{name}")
        self.process.start()

    def _answer(self):
        status, value = self.conn.recv()
        if status == "error":
            raise SystemExit(f"benchmark worker {self.name!r} failed:\n{value}")
        return value

    def wait_ready(self) -> None:
        ready = self._answer()
        self.info = ready["info"]
        self.contacts_per_page, self.max_contacts = ready["contacts_per_page"], ready["max_contacts"]
        self.timeline_entries = ready["timeline_entries"]
        self.probes = ready["probes"]
        self.follow_contacts, self.follow_open = ready["follow_contacts"], ready["follow_open"]

    def measure(self, op: Operation, start: int, stop: int):
        self.conn.send(("run", op.key, start, stop))
        return self._answer()

    def close(self, keep: bool) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(("close", keep))
                self._answer()
            except (EOFError, OSError, SystemExit):
                pass
        self.process.join(timeout=60)


@dataclass
class Results:
    times: dict = field(default_factory=dict)       # (scale, op) -> [ms]
    by_kind: dict = field(default_factory=dict)     # (scale, op, kind) -> [ms]
    hits: dict = field(default_factory=dict)        # (scale, kind) -> [totals]

    def add(self, scale, op, ms, kind=None):
        self.times.setdefault((scale, op), []).append(ms)
        if kind:
            self.by_kind.setdefault((scale, op, kind), []).append(ms)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def selected(args) -> list[Operation]:
    return [op for op in OPERATIONS if not args.only or op.key in args.only]


def measure(scales: list["ScaleProcess"], args, log) -> Results:
    results = Results()
    for scale in scales:
        for op in selected(args):
            scale.measure(op, 0, args.warmup)
    log(f"warmed up ({args.warmup} requests per operation and scale); measuring "
        f"{args.requests} per operation and scale in {args.rounds} interleaved rounds")
    chunk = math.ceil(args.requests / args.rounds)
    for round_no in range(args.rounds):
        start = args.warmup + round_no * chunk
        stop = min(args.warmup + args.requests, start + chunk)
        order = scales if round_no % 2 == 0 else scales[::-1]
        for scale in order:
            for op in selected(args):
                for ms, kind, hits in scale.measure(op, start, stop):
                    results.add(scale.name, op.key, ms, kind)
                    if hits is not None:
                        results.hits.setdefault((scale.name, kind), []).append(hits)
        log(f"  round {round_no + 1}/{args.rounds} done")
    return results


def report(scales: list[ScaleProcess], results: Results, args, started: float, load_before) -> tuple[list[str], bool]:
    small, large = scales
    lines = [
        "Fideliza benchmark: server time per request, in process (Flask test client)",
        f"  {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average "
        f"{load_before[0]:.2f} before / {os.getloadavg()[0]:.2f} after",
        f"  {args.requests} requests per operation and scale after {args.warmup} warm-up requests, "
        f"the two scales interleaved in {args.rounds} rounds; seed {args.seed}",
    ]
    for scale in scales:
        lines.append(f"  {scale.name}: {scale.customers:,} customers, {scale.moments:,} moments "
                     f"({scale.info['loaded'].get('commitments', 0):,} commitments), "
                     f"database generated in {scale.info['seconds']:.0f} s, "
                     f"{scale.info['bytes'] / 2**20:,.0f} MiB")
    lines.append("")
    head = (f"{'operation':<30} {'request':<26} {'small':>7} {'p95':>7} {'large':>7} {'p95':>7} "
            f"{'growth':>7}  {'median<=15ms':<12} {'growth<30%':<10}")
    lines += [head + "", f"{'':<30} {'':<26} {'median':>7} {'':>7} {'median':>7}", "-" * len(head)]

    def row(title, request, s, l, judged):
        s_med, l_med = statistics.median(s), statistics.median(l)
        growth = l_med / s_med - 1
        ok_median = l_med <= TARGET_MEDIAN_MS and s_med <= TARGET_MEDIAN_MS
        ok_growth = growth < TARGET_GROWTH
        verdicts = (f"{'PASS' if ok_median else 'FAIL':<12} {'PASS' if ok_growth else 'FAIL':<10}" if judged
                    else f"{'(info)':<12} {'(info)':<10}")
        lines.append(f"{title:<30} {request:<26} {s_med:7.2f} {percentile(s, 95):7.2f} "
                     f"{l_med:7.2f} {percentile(l, 95):7.2f} {growth:+7.1%}  {verdicts}")
        return ok_median and ok_growth

    passed = True
    for op in selected(args):
        ok = row(op.title, op.request, results.times[(small.name, op.key)], results.times[(large.name, op.key)],
                 op.judged)
        passed &= ok or not op.judged
        if op.key == "log_moment":
            for kind in ("new matter", "follow-up"):
                s = results.by_kind.get((small.name, op.key, kind))
                l = results.by_kind.get((large.name, op.key, kind))
                if s and l:
                    row(f"  of which {kind}s ({len(l)})", "", s, l, judged=False)
    lines.append(f"(milliseconds; small = {small.moments:,}-moment scale, large = {large.moments:,}-moment scale; "
                 "(info) rows are not judged)")
    searches = [op.key for op in selected(args) if op.key.startswith("search")]
    if searches:
        lines += ["", "Search by kind of query (median ms, small -> large; mean customers found):"]
    for kind in QUERY_KINDS if searches else ():
        cells = []
        for op in searches:
            s = results.by_kind[(small.name, op, kind)]
            l = results.by_kind[(large.name, op, kind)]
            cells.append(f"{op.split('_')[1]} {statistics.median(s):6.2f} -> {statistics.median(l):6.2f}")
        hits = results.hits.get((large.name, kind))
        found = f"   found {statistics.mean(hits):8,.1f}" if hits else ""
        lines.append(f"  {kind:<22} e.g. {QUERY_EXAMPLES[kind]!r:<20} {'   '.join(cells)}{found}")
    keys = {op.key for op in selected(args)}
    if "customer_page" in keys:
        if small.probes != large.probes:
            raise SystemExit(f"the probes differ between the scales: {small.probes} / {large.probes}")
        lines += ["", f"Customer page, probes (judged): the same page at both scales: {small.probes}; the "
                  f"{args.warmup + args.requests} requests cycle over the "
                  f"{PROBES} probes. The probes are added to the working copies only (bench/probes.py)."]
    if "customer_page_random" in keys:
        lines += ["", "Customer page, random customers (information, unlike pages): " + "; ".join(
            f"{s.name} {s.contacts_per_page:.1f} contacts and {s.timeline_entries:.1f} timeline entries "
            f"(contacts, stage changes, commitments met) each on average, busiest {s.max_contacts} contacts"
            for s in scales)]
    if "log_moment" in keys:
        lines += ["", "Log a moment: the same payloads at both scales, judged on the median of all. Follow-ups "
                  "follow a random earlier contact (a different row at each scale): its incident has "
                  + "; ".join(f"{s.follow_contacts:.2f} contacts and {s.follow_open:.2f} open commitments for "
                              f"the follow-up to close at {s.name} scale" for s in scales) + " on average."]
    lines.append(f"Logging moments adds {args.warmup + args.requests} contacts to each scale's working "
                 "copy (1 in 5 follows an earlier contact); the cached databases are not changed.")
    lines += ["", f"RESULT (issue 2, server time): {'PASS' if passed else 'FAIL'} (targets: median <= "
              f"{TARGET_MEDIAN_MS:g} ms at both scales, growth < {TARGET_GROWTH:.0%}, judged rows only); "
              f"took {time.perf_counter() - started:.0f} s"]
    return lines, passed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="moments at the small scale")
    parser.add_argument("--large", type=int, default=1_000_000, help="moments at the large scale")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per operation and scale")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds over the two scales")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--allow-stale", action="store_true",
                        help="reuse cached databases even if the generator, models or migrations changed")
    parser.add_argument("--only", metavar="OPS", help="comma-separated subset of: "
                        + ", ".join(op.key for op in OPERATIONS))
    parser.add_argument("--keep-work", action="store_true", help="keep the working copies in bench/.data/")
    parser.add_argument("--no-sla", action="store_true",
                        help="leave out the business-time benchmark (python -m bench.sla runs it alone)")
    args = parser.parse_args(argv)
    if args.only:
        args.only = [key.strip() for key in args.only.split(",")]
        unknown = set(args.only) - {op.key for op in OPERATIONS}
        if unknown:
            parser.error(f"unknown operations: {', '.join(sorted(unknown))}")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    started, load_before = time.perf_counter(), os.getloadavg()
    # The instant the probes' history ends: the same for both scales.
    args.probe_now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    # Both workers prepare (and, the first time, generate) their database at once.
    scales = [ScaleProcess("small", args.customers, args.small, args),
              ScaleProcess("large", args.customers, args.large, args)]
    try:
        for scale in scales:
            scale.wait_ready()
        results = measure(scales, args, log)
    finally:
        for scale in scales:
            scale.close(args.keep_work)
    lines, passed = report(scales, results, args, started, load_before)
    if args.no_sla:
        lines += ["", "Business time (issue 3): not run (--no-sla); `python -m bench.sla` runs it."]
    else:
        from bench import sla

        log("business time: crm.sla against businesstimedelta (bench/sla.py)")
        sla_lines, sla_passed = sla.measure()
        lines += ["", "=" * 80, "", *sla_lines, "(`python -m bench.sla` runs this part alone)"]
        passed &= sla_passed
    text = "\n".join(lines) + "\n"
    print("\n" + text, end="")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    (DATA_DIR / "last-run.txt").write_text(text)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
