"""Dispatchers as separate processes: two at once deliver each message exactly once, and a
dispatcher killed with SIGKILL loses nothing (its unmarked sends may go out once more)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.followups.dispatch import LEASE, MARK_EVERY
from crm.followups.models import OutboxMessage
from crm.followups.outbox import insert_rows
from crm.followups.render import build_message
from tests.conftest import NOW
from tests.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("dispatch-processes")


def make_due_messages(app, count: int) -> None:
    with app.app_context():
        rows = []
        for n in range(count):
            key = f"load:{n}"
            rendered = build_message(key=key, to_address=f"cliente{n}@example.es", to_name=f"Cliente {n}",
                                     language="es", subject=f"Mensaje {n}", body=f"Hola, cliente {n}.",
                                     marketing=False, unsubscribe=None, survey=None)
            rows.append({"idempotency_key": key, "kind": "transactional", "to_address": f"cliente{n}@example.es",
                         "language": "es", "subject": f"Mensaje {n}", "message": rendered.message, "due_at": NOW,
                         "status": "pending", "attempts": 0, "created_at": NOW})
        for start in range(0, count, 500):
            insert_rows(rows[start:start + 500])
        db.session.commit()


def dispatcher(database_url: str, smtp: SmtpSink, now) -> subprocess.Popen:
    env = {**os.environ, "CRM_ENV": "development", "CRM_DATABASE_URL": database_url, "CRM_SMTP_URL": smtp.url,
           "CRM_SECRET_KEY": "test-secret"}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "crm", "dispatch", "--now",
                             now.isoformat()], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def statuses(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def test_two_dispatchers_at_once_deliver_each_message_exactly_once(app, database_url):
    make_due_messages(app, 2000)
    # A little latency per message keeps both dispatchers busy at the same time.
    smtp = SmtpSink(delay=0.001).start()
    try:
        first, second = dispatcher(database_url, smtp, NOW), dispatcher(database_url, smtp, NOW)
        outputs = [p.communicate(timeout=300) for p in (first, second)]
    finally:
        smtp.stop()
    for process, (_, err) in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, err
    sent = [int(out.split(" sent")[0]) for out, _ in outputs]
    assert sum(sent) == 2000 and min(sent) > 0, sent  # both took part
    assert smtp.count() == 2000
    assert len(smtp.ids) == 2000 and set(smtp.ids.values()) == {1}
    assert statuses(app) == {"sent": 2000}


def test_a_killed_dispatcher_loses_nothing(app, database_url):
    make_due_messages(app, 400)
    smtp = SmtpSink(delay=0.01).start()  # about 100 messages a second
    try:
        victim = dispatcher(database_url, smtp, NOW)
        deadline = time.monotonic() + 60
        while smtp.count() < 120 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        delivered_before = smtp.count()
        assert 120 <= delivered_before < 400
        stuck = statuses(app).get("sending", 0)
        assert stuck > 0  # claimed rows wait for their lease to expire
        # Before the lease expires nobody touches them ...
        early = dispatcher(database_url, smtp, NOW + timedelta(minutes=1))
        early.communicate(timeout=120)
        assert statuses(app).get("sending", 0) == stuck
        # ... after it, they go out.
        rescuer = dispatcher(database_url, smtp, NOW + LEASE + timedelta(minutes=1))
        out, err = rescuer.communicate(timeout=120)
        assert rescuer.returncode == 0, err
    finally:
        smtp.stop()
    assert statuses(app) == {"sent": 400}
    assert len(smtp.ids) == 400  # every message arrived
    duplicates = sum(count - 1 for count in smtp.ids.values())
    # Only sends the victim made but had not marked yet may repeat, each at most once.
    assert max(smtp.ids.values()) <= 2
    assert duplicates <= MARK_EVERY, duplicates
