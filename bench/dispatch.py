"""Outbox dispatch throughput (issue 4): messages per second to a loopback SMTP server.

    .venv/bin/python -m bench.dispatch [--messages 5000] [--postgres URL]

An aiosmtpd server runs in its own process. The same messages are sent twice: by a
bare smtplib loop over one connection (pre-built bytes, nothing else: the ceiling),
and by the dispatcher from the outbox table (claim with a lease, send over one
connection, mark sent). The bare loop runs before and after the dispatcher and the
better of its two figures is the reference. Targets: at least 300 messages/s, and at
least 70% of the bare loop, in the same run.
"""
from __future__ import annotations

import argparse
import multiprocessing
import smtplib
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

TARGET_RATE = 300.0
TARGET_SHARE = 0.70


def _serve(port: int, ready, stop, received) -> None:
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _app(url: str):
    from crm import create_app
    from crm.extensions import db

    app = create_app({"CRM_ENV": "test", "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
                      "CRM_SMTP_URL": None})
    with app.app_context():
        db.create_all()
    return app


def _fill(app, count: int, now: datetime) -> float:
    from crm.extensions import db
    from crm.followups.outbox import insert_rows
    from crm.followups.render import build_message

    start = time.perf_counter()
    with app.app_context():
        rows = []
        for n in range(count):
            key = f"bench:{n}"
            body = f"Hola, cliente {n}:\n\nGracias por tu visita al taller. ¿Nos cuentas qué tal?\n\nUn saludo."
            rendered = build_message(key=key, to_address=f"cliente{n}@example.es", to_name=f"Cliente Núñez {n}",
                                     language="es", subject=f"Tu visita n.º {n}", body=body, marketing=False,
                                     unsubscribe=None, survey=None)
            rows.append({"idempotency_key": key, "kind": "transactional", "to_address": f"cliente{n}@example.es",
                         "language": "es", "subject": f"Tu visita n.º {n}", "message": rendered.message,
                         "due_at": now, "status": "pending", "attempts": 0, "created_at": now})
            if len(rows) == 1000:
                insert_rows(rows)
                rows = []
        insert_rows(rows)
        db.session.commit()
    return count / (time.perf_counter() - start)


def _bare_loop(port: int, messages: list[tuple[str, bytes]]) -> float:
    smtp = smtplib.SMTP("127.0.0.1", port)
    start = time.perf_counter()
    for to, body in messages:
        smtp.sendmail("no-reply@fideliza.localhost", [to],
                      b"Date: " + format_datetime(datetime.now(timezone.utc)).encode() + b"\r\n" + body)
    elapsed = time.perf_counter() - start
    smtp.quit()
    return len(messages) / elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--postgres", help="server URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432")
    args = parser.parse_args(argv)

    from sqlalchemy import func, select

    from crm.extensions import db
    from crm.followups.dispatch import dispatch
    from crm.followups.models import OutboxMessage
    from crm.followups.rules import parse_smtp_url
    from crm.followups.transport import SmtpTransport
    from tests.smtp_sink import free_port

    now = datetime.now(timezone.utc)
    drop = None
    if args.postgres:
        import sqlalchemy as sa

        name = f"fideliza_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(f"{args.postgres}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = f"{args.postgres}/{name}"

        def drop():
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        folder = tempfile.mkdtemp(prefix="fideliza-bench-")
        url = "sqlite:///" + str(Path(folder) / "dispatch.db")

    port = free_port()
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    received = multiprocessing.Value("l", 0)
    server = multiprocessing.Process(target=_serve, args=(port, ready, stop, received), daemon=True)
    server.start()
    ready.wait(10)
    try:
        app = _app(url)
        write_rate = _fill(app, args.messages, now)
        with app.app_context():
            messages = [(to, body) for to, body in db.session.execute(
                select(OutboxMessage.to_address, OutboxMessage.message).order_by(OutboxMessage.id))]
            engine = db.engine.dialect.name
        _bare_loop(port, messages[:500])  # warm up the server process
        bare_before = _bare_loop(port, messages)
        with app.app_context():
            transport = SmtpTransport(parse_smtp_url(f"smtp://127.0.0.1:{port}"))
            start = time.perf_counter()
            result = dispatch(transport, now)
            elapsed = time.perf_counter() - start
            sent = db.session.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.status == "sent"))
        bare_after = _bare_loop(port, messages)
        rate = result.sent / elapsed
        bare = max(bare_before, bare_after)
        share = rate / bare
        expected = 3 * args.messages + min(500, args.messages)
        time.sleep(0.2)
        lines = [
            f"dispatch benchmark on {engine}: {args.messages} messages, loopback aiosmtpd in its own process",
            f"  writing rendered messages to the outbox: {write_rate:,.0f} messages/s",
            f"  bare smtplib loop, one connection:       {bare_before:,.0f} / {bare_after:,.0f} messages/s "
            f"(before / after)",
            f"  dispatcher (claim, send, mark):          {rate:,.0f} messages/s "
            f"({result}; {sent} rows marked sent)",
            f"  share of the bare loop:                  {share:.0%}   (targets: >= {TARGET_RATE:.0f}/s and "
            f">= {TARGET_SHARE:.0%})",
            f"  server received {received.value} of {expected} messages",
        ]
        print("\n".join(lines))
        ok = rate >= TARGET_RATE and share >= TARGET_SHARE and sent == args.messages and received.value == expected
        print("  targets met" if ok else "  TARGET MISSED")
        return 0 if ok else 1
    finally:
        stop.set()
        server.join(10)
        if drop:
            with app.app_context():
                db.engine.dispose()
            drop()


if __name__ == "__main__":
    sys.exit(main())
