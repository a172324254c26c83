"""Webhook delivery throughput (issue 6): signed POSTs per second to a loopback receiver.

    .venv/bin/python -m bench.webhooks [--events 3000] [--postgres URL]

A receiver (http.server, threaded, in its own process) answers 200 and checks every
signature. Events are written through the real emission path (`crm.webhooks.events.emit`,
as a logged contact does) to one endpoint, then the dispatcher delivers them all. Prints
events/s for writing, deliveries/s for sending, and how many signatures the receiver
verified. A second run stops the receiver first: the dispatcher makes one probe and
defers the rest, and the time that takes is printed too (it must stay near zero,
whatever the queue's length).
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path


def _serve(port: int, secret: str, ready, stop, received, valid) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from crm.webhooks.rules import SIGNATURE_HEADER, verify

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with received.get_lock():
                received.value += 1
                if verify(secret, self.headers.get(SIGNATURE_HEADER, ""), body, time.time()):
                    valid.value += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.set()
    stop.wait()
    server.shutdown()


def run(events: int, url: str | None, log=print) -> dict:
    from crm import create_app
    from crm.extensions import db
    from crm.webhooks import dispatch
    from crm.webhooks import events as webhook_events
    from crm.webhooks.models import WebhookEndpoint
    from crm.webhooks.rules import new_secret
    from tests.smtp_sink import free_port

    folder = tempfile.mkdtemp(prefix="bench-webhooks-")
    database = url or f"sqlite:///{Path(folder) / 'webhooks.db'}"
    app = create_app({"CRM_ENV": "test", "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database})
    port, secret = free_port(), new_secret()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    received, valid = ctx.Value("i", 0), ctx.Value("i", 0)
    server = ctx.Process(target=_serve, args=(port, secret, ready, stop, received, valid), daemon=True)
    server.start()
    ready.wait(10)
    figures = {}
    try:
        with app.app_context():
            db.drop_all()
            db.create_all()
            now = datetime.now(timezone.utc)
            endpoint = WebhookEndpoint(url=f"http://127.0.0.1:{port}/hook", events=["moment.logged"], secret=secret,
                                       active=True, created_at=now, updated_at=now)
            db.session.add(endpoint)
            db.session.commit()
            started = time.perf_counter()
            for start in range(0, events, 500):
                webhook_events.emit("moment.logged", [{"moment": {"id": n}} for n in range(start, min(events,
                                                                                                     start + 500))],
                                    now)
                db.session.commit()
            figures["write_per_s"] = events / (time.perf_counter() - started)
            started = time.perf_counter()
            result = dispatch.deliver_due(now)
            seconds = time.perf_counter() - started
            figures.update(delivered=result.delivered, send_s=seconds, send_per_s=result.delivered / seconds,
                           received=received.value, valid=valid.value)
            log(f"engine {db.engine.dialect.name}: wrote {events:,} events at {figures['write_per_s']:,.0f}/s; "
                f"delivered {result.delivered:,} in {seconds:.2f} s = {figures['send_per_s']:,.0f}/s; "
                f"receiver got {received.value:,}, {valid.value:,} with a valid signature")

            stop.set()
            server.join(10)
            webhook_events.emit("moment.logged", [{"moment": {"id": n}} for n in range(events)], now)
            db.session.commit()
            started = time.perf_counter()
            down = dispatch.deliver_due(now)
            figures["down_s"] = time.perf_counter() - started
            log(f"receiver down, {events:,} queued: {down} in {figures['down_s']:.2f} s")
            db.drop_all()
    finally:
        stop.set()
        if server.is_alive():
            server.terminate()
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database URL to run on instead of SQLite")
    args = parser.parse_args(argv)
    figures = run(args.events, args.postgres)
    ok = figures["delivered"] == figures["received"] == figures["valid"] == args.events
    print("PASS" if ok else "FAIL: deliveries, receipts and valid signatures differ")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
