"""`python -m bench.soak [--short] [--engine sqlite|postgresql|both] [--duration S] …` (see bench/soak/__init__.py)."""
from __future__ import annotations

import argparse
import os
import random
import resource
import secrets
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.soak import faults as fault_mod
from bench.soak import verify
from bench.soak.mail import MailSink, free_port
from bench.soak.stack import Stack, cpu_seconds
from bench.soak.users import NOT_JUDGED, Agent, HealthProbe, Recorder, Supervisor

PG_SERVER = os.environ.get("CRM_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _env(name: str, default, kind=int):
    raw = os.environ.get(name, "").strip()
    return kind(raw) if raw else default


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    p.add_argument("--short", action="store_true",
                   help="the CI version: 30 s per engine, 16 agents, 2 supervisors, 2,000 customers, think times halved")
    p.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default=os.environ.get("SOAK_ENGINE", "both"))
    p.add_argument("--duration", type=float, help="seconds of load per engine [300; --short 30] (SOAK_DURATION)")
    p.add_argument("--agents", type=int, help="simulated agents [50; --short 16] (SOAK_AGENTS)")
    p.add_argument("--supervisors", type=int, help="simulated supervisors [5; --short 2] (SOAK_SUPERVISORS)")
    p.add_argument("--customers", type=int, help="customers in the database [4000; --short 2000]")
    p.add_argument("--moments", type=int, help="demo contacts in the database [12000; --short 5000]")
    p.add_argument("--workers", type=int, default=_env("SOAK_WORKERS", 4), help="gunicorn workers [4]")
    p.add_argument("--think", type=float, help="scale the users' think times (0.5: twice as busy) [1; --short 0.5]")
    p.add_argument("--faults", action=argparse.BooleanOptionalAction, default=_env("SOAK_FAULTS", 1) == 1,
                   help="inject faults during the run [on]")
    p.add_argument("--pg-fault", choices=["auto", "terminate", "restart"], default=os.environ.get("SOAK_PG_FAULT", "auto"),
                   help="the database fault: restart the PostgreSQL server (pg_ctlcluster, as root; it disturbs "
                        "anyone else using that server), or cut every connection of the app (pg_terminate_backend, "
                        "the same reconnect path); auto: restart on the full run when possible, terminate on --short")
    p.add_argument("--smtp-outage", type=float, help="seconds the SMTP server stays down [60; --short 8]")
    p.add_argument("--warmup", type=float, default=_env("SOAK_WARMUP", 15.0, float),
                   help="seconds before the measured run: staff log in, workers render each page once [15]")
    p.add_argument("--min-samples", type=int, default=_env("SOAK_MIN_SAMPLES", 20),
                   help="a page's p95 is judged from this many requests on [20]")
    p.add_argument("--p95", type=float, default=_env("SOAK_P95_MS", 150.0, float), help="p95 limit per page, ms [150]")
    p.add_argument("--seed", type=int, default=_env("SOAK_SEED", 7), help="random seed of users and faults")
    p.add_argument("--pg-server", default=PG_SERVER, help="PostgreSQL server URL, without a database name")
    p.add_argument("--keep", action="store_true", help="keep the working directory (logs, SQLite file) on success")
    args = p.parse_args(argv)
    short = args.short
    for name, full, quick in (("duration", 300.0, 30.0), ("agents", 50, 16), ("supervisors", 5, 2),
                              ("customers", 4000, 2000), ("moments", 12000, 5000), ("smtp_outage", 60.0, 8.0), ("think", 1.0, 0.5)):
        if getattr(args, name) is None:
            env = os.environ.get(f"SOAK_{name.upper()}", "").strip()
            kind = type(full)
            setattr(args, name, kind(env) if env else (quick if short else full))
    if args.pg_fault == "auto":
        able = os.geteuid() == 0 and fault_mod.can_restart_postgresql()
        args.pg_fault = "restart" if able and not short else "terminate"
    return args


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_engine(engine: str, args) -> bool:
    rng = random.Random(f"{args.seed}-{engine}")
    workdir = Path(tempfile.mkdtemp(prefix=f"fideliza-soak-{engine}-"))
    sink = MailSink()
    stack = Stack(engine, workdir, port=free_port(), smtp_url=sink.url, workers=args.workers,
                  pg_server=args.pg_server)
    print(f"\n== soak on {engine}: {args.agents} agents, {args.supervisors} supervisors, {args.duration:g} s, "
          f"{args.workers} workers, faults {'on' if args.faults else 'off'} (logs in {workdir}) ==", flush=True)
    passed = False
    try:
        stack.create_database()
        t0 = time.monotonic()
        fixture = stack.prepare(customers=args.customers, moments=args.moments, agents=args.agents,
                                supervisors=args.supervisors, seed=args.seed)
        print(f"database ready in {time.monotonic() - t0:.0f} s: demo business, {args.customers} customers, "
              f"{args.moments} contacts, {args.agents + args.supervisors} soak staff", flush=True)
        sink.start()
        stack.start_scheduler()
        stack.start_web()
        passed = load_and_check(stack, sink, fixture, args, rng, engine)
    finally:
        stack.stop()
        sink.stop()
        try:
            stack.drop_database()
        except Exception as exc:  # the verdict stands; say what is left behind
            print(f"could not drop the soak database {stack.pg_name}: {exc}")
        if passed and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs kept in {workdir}")
    return passed


def load_and_check(stack: Stack, sink: MailSink, fixture: dict, args, rng: random.Random, engine: str) -> bool:
    recorder = Recorder(run_id=secrets.token_hex(3))
    stop = threading.Event()
    common = {"base_url": stack.base_url, "recorder": recorder, "stop": stop, "think": args.think}
    # Staff arrive over the first two thirds of the warm-up, not all in the same second.
    arrival = args.warmup * 2 / 3
    users = [Agent(n + 1, email, fixture["password"], fixture["customers"], backdate_share=0.3,
                   rng=random.Random(rng.random()), start_delay=rng.uniform(0, arrival), **common)
             for n, email in enumerate(fixture["agents"])]
    users += [Supervisor(email, fixture["password"], rng=random.Random(rng.random()),
                         start_delay=rng.uniform(0, arrival), **common) for email in fixture["supervisors"]]
    users.append(HealthProbe(rng=random.Random(0), **common))
    for user in users:
        user.start()
    stop.wait(args.warmup)
    started = recorder.measure_from = time.monotonic()
    since, cpu_before = datetime.now(timezone.utc), _cpu_busy()
    meter = CpuMeter(stack, stop)
    meter.start()
    injector = None
    if args.faults:
        schedule = fault_mod.plan(args.duration, engine, args.smtp_outage, rng)
        injector = fault_mod.FaultInjector(stack, sink, schedule, started=started, stop=stop,
                                           smtp_outage=args.smtp_outage, pg_fault=args.pg_fault, rng=rng)
        injector.start()
    stop.wait(args.duration)
    stop.set()
    for user in users:
        user.join(timeout=60)
    elapsed = time.monotonic() - started
    cpu_after = _cpu_busy()
    meter.join(timeout=5)
    if injector:
        injector.join(timeout=120)
    faults = injector.faults if injector else []
    # Let the scheduler finish what is due (a sweep, a dispatch), then stop everything.
    time.sleep(2)
    stack.stop()
    return report(stack, sink, recorder, faults, fixture, args, elapsed, started, since, (cpu_before, cpu_after), meter)


class CpuMeter(threading.Thread):
    """The CPU the web workers and the scheduler spend during the measured run, read every
    second from /proc (a killed process keeps what it had used when last seen)."""

    def __init__(self, stack: Stack, stop: threading.Event):
        super().__init__(daemon=True)
        self.stack, self.stop = stack, stop
        self.start_values: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.first = True

    def read(self) -> None:
        processes = [(pid, "web") for pid in self.stack.worker_pids()]
        if self.stack.scheduler is not None:
            processes.append((self.stack.scheduler.pid, "scheduler"))
        for pid, role in processes:
            used = cpu_seconds(pid)
            if used is not None:
                # What a process had used before the run does not count; one born during it counts whole.
                self.start_values.setdefault(pid, used if self.first else 0.0)
                self.last[pid] = (role, used)
        self.first = False

    def run(self) -> None:
        self.read()
        while not self.stop.wait(1.0):
            self.read()
        self.read()

    def used(self, role: str) -> float:
        return sum(used - self.start_values.get(pid, 0.0) for pid, (r, used) in self.last.items() if r == role)


def _cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def report(stack, sink, recorder, faults, fixture, args, elapsed, started, since, cpu, meter) -> bool:
    checks: list[verify.Check] = []
    log_checks, server_times = verify.logs(stack.logs(), since)
    total = sum(len(times) for times in recorder.samples.values())
    staff = total - len(recorder.samples.get("healthz", []))
    busy = (cpu[1][0] - cpu[0][0]) / max(1, cpu[1][1] - cpu[0][1])
    harness = resource.getrusage(resource.RUSAGE_SELF)
    print(f"\n{staff} requests from the staff in {elapsed:.0f} s (after a {args.warmup:g} s warm-up): "
          f"{staff / elapsed:.1f} requests/s ({total / elapsed:.1f}/s with the /healthz probe)")
    print(f"machine: {os.cpu_count()} CPUs {busy:.0%} busy during the run (everything on it, other users included), "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; the load generator itself used "
          f"{harness.ru_utime + harness.ru_stime:.0f} CPU-seconds (warm-up included)")
    web_cpu = meter.used("web")
    print(f"server CPU in the measured run: web workers {web_cpu:.0f} CPU-seconds, "
          f"{1000 * web_cpu / max(1, total):.1f} ms per request on average; scheduler {meter.used('scheduler'):.0f} "
          f"CPU-seconds")
    if faults:
        print("steady: requests that started outside the faults' recovery windows (a worker or scheduler booting, "
              "the database reconnecting); the p95 limit applies to them")

    def steady(samples):
        return [ms for at, ms in samples if not any(f.disturbs(at) for f in faults)]

    healthz = [ms for _, ms in recorder.samples.get("healthz", [])]
    h50, h95 = percentile(healthz, 50), percentile(healthz, 95)
    print(f"{'page':<19}{'count':>6}{'req/s':>7}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>7}{'steady p95':>11}"
          f"{'server p95':>11}{'p50 ×hz':>8}{'p95 ×hz':>8}  ms; statuses over the whole run")
    slow, unjudged = [], []
    for page in sorted(recorder.statuses):
        times = [ms for _, ms in recorder.samples.get(page, [])]
        calm = steady(recorder.samples.get(page, []))
        p50, p95, p99 = (percentile(times, q) for q in (50, 95, 99))
        calm95 = percentile(calm, 95)
        server = percentile(server_times.get(page, []), 95)
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(recorder.statuses[page].items(), key=str))
        print(f"{page:<19}{len(times):>6}{len(times) / elapsed:>7.2f}{p50:>7.1f}{p95:>7.1f}{p99:>7.1f}"
              f"{max(times, default=float('nan')):>7.0f}{calm95:>11.1f}{server:>11.1f}{p50 / h50:>8.1f}"
              f"{p95 / h95:>8.1f}  {statuses}")
        if page in NOT_JUDGED or len(calm) < args.min_samples:
            unjudged.append(f"{page} ({len(calm)})")
        elif calm95 > args.p95:
            slow.append(f"{page} {calm95:.0f} ms")
    checks.append(verify.Check(f"latency: p95 ≤ {args.p95:g} ms on every page", not slow,
                               (", ".join(slow) or "all within")
                               + f"; not judged: {', '.join(unjudged)} (login hashes a password on purpose, "
                               f"/healthz is the yardstick, others had fewer than {args.min_samples} requests)"))
    excused, blamed = [], []
    for when, page, kind, detail in recorder.errors:
        (excused if any(f.excuses(when, kind) for f in faults) else blamed).append(f"{page} {kind} {detail}")
    fivexx = [e for e in blamed if " 5xx " in e]
    others = [e for e in blamed if " 5xx " not in e]
    checks.append(verify.Check("errors: no 5xx (outside a database fault)", not fivexx, f"{len(fivexx)} {fivexx[:5]}"))
    checks.append(verify.Check("errors: no transport error or unexpected answer outside a fault's window", not others,
                               f"{len(others)} {others[:5]}; {len(excused)} during faults {excused[:5]}"))
    checks += log_checks
    engine = stack.db()
    checks += verify.ledger_of_moments(engine, recorder)
    checks += verify.ledger_of_decisions(engine, recorder, fixture["supervisors"])
    scheduler_kills = sum(1 for f in faults if f.kind == "scheduler")
    checks += verify.mail(engine, sink.received(), scheduler_kills)
    if faults:
        print("\nfaults:")
        for fault in sorted(faults, key=lambda f: f.at):
            recovered = f"recovered in {fault.recovered_after:.1f} s" if fault.recovered_after is not None \
                else "DID NOT RECOVER"
            print(f"  +{fault.at - started:4.0f} s  {fault.kind:<9} {fault.detail}; {recovered}")
        checks.append(verify.Check("faults: the app recovered from each by itself",
                                   all(f.recovered_after is not None for f in faults), f"{len(faults)} faults"))
    print()
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}\n      {check.detail}")
    return all(check.ok for check in checks)


def main(argv=None) -> int:
    args = parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    if args.faults and args.pg_fault == "restart" and "postgresql" in engines and \
            (os.geteuid() != 0 or not fault_mod.can_restart_postgresql()):
        print("--pg-fault restart needs root and pg_ctlcluster; use --pg-fault terminate")
        return 2
    results = {engine: run_engine(engine, args) for engine in engines}
    print("\n" + "  ".join(f"{engine}: {'PASS' if ok else 'FAIL'}" for engine, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
