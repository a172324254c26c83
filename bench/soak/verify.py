"""After the run: the ledger against the database, the mail sink against the outbox, the logs."""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from bench.soak.mail import message_id

# A dispatcher killed between sends and their mark may send up to MARK_EVERY messages
# again once their lease expires: the outbox's documented at-least-once window.
from crm.followups.dispatch import MARK_EVERY

TAG = re.compile(r"\[soak (\S+) a\d+#\d+\]")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def ledger_of_moments(engine: sa.Engine, recorder) -> list[Check]:
    pattern = f"%[soak {recorder.run_id} %"
    with engine.connect() as connection:
        notes = connection.execute(sa.text("SELECT notes FROM moments WHERE notes LIKE :p"), {"p": pattern}).scalars()
        found = Counter(match.group(0) for text in notes for match in [TAG.search(text)] if match)
    confirmed = {tag for tag, state in recorder.moments.items() if state == "confirmed"}
    uncertain = {tag for tag, state in recorder.moments.items() if state == "uncertain"}
    lost = sorted(tag for tag in confirmed if found[tag] == 0)
    doubled = sorted(tag for tag, count in found.items() if count > 1)
    unknown = sorted(tag for tag in found if tag not in recorder.moments)
    written_uncertain = sum(1 for tag in uncertain if found[tag])
    return [Check("moments: every confirmed contact is in the database once",
                  not lost and not doubled and not unknown,
                  f"{len(confirmed)} confirmed, {sum(found.values())} in the database; lost {len(lost)} "
                  f"{lost[:3]}, doubled {len(doubled)} {doubled[:3]}, not in the ledger {len(unknown)} {unknown[:3]}; "
                  f"{len(uncertain)} uncertain (no answer), {written_uncertain} of them written")]


def ledger_of_decisions(engine: sa.Engine, recorder, supervisors: list[str]) -> list[Check]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text(
            "SELECT c.id, c.status, d.email, i.email FROM compensations c "
            "LEFT JOIN users d ON d.id = c.decided_by_id LEFT JOIN users i ON i.id = c.issued_by_id")).all()
        repeated = connection.execute(sa.text(
            "SELECT commitment_id, count(*) FROM compensations WHERE commitment_id IS NOT NULL "
            "GROUP BY commitment_id HAVING count(*) > 1")).all()
        statuses = Counter(connection.execute(sa.text("SELECT status FROM compensations")).scalars())
    db = {row[0]: row[1:] for row in rows}
    ours = set(supervisors)
    wrong, doubled = [], []
    counts = Counter()
    for compensation_id, entries in recorder.decisions.items():
        status, decided_by, issued_by = db.get(compensation_id, (None, None, None))
        confirmed = [(action, who) for action, who, state in entries if state == "confirmed"]
        counts.update(action for action, _ in confirmed)
        # Two supervisors both told "approved" (or one approved, one rejected) for one compensation.
        decisions = [c for c in confirmed if c[0] in ("approve", "reject")]
        issues = [c for c in confirmed if c[0] == "issue"]
        if len(decisions) > 1 or len(issues) > 1:
            doubled.append((compensation_id, confirmed))
        for action, who in confirmed:
            expected = {"approve": (("approved", "issued"), decided_by), "reject": (("rejected",), decided_by),
                        "issue": (("issued",), issued_by)}[action]
            if status not in expected[0] or expected[1] != who:
                wrong.append((compensation_id, action, who, status, decided_by, issued_by))
    claimed = {cid for cid, entries in recorder.decisions.items() for _ in entries}
    unknown = [cid for cid, (status, decided_by, issued_by) in db.items()
               if (decided_by in ours or issued_by in ours) and cid not in claimed]
    detail = (f"ledger: {counts['approve']} approved, {counts['reject']} rejected, {counts['issue']} issued, "
              f"{recorder.conflicts} refused as already decided by another supervisor; database: "
              + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    return [
        Check("compensations: every confirmed decision is in the database as told", not wrong and not unknown,
              f"{detail}; mismatches {len(wrong)} {wrong[:3]}, decided by a soak supervisor but not in the "
              f"ledger {len(unknown)} {unknown[:3]}"),
        Check("compensations: no decision confirmed twice (lost update)", not doubled,
              f"{len(doubled)} compensations decided twice {doubled[:3]}"),
        Check("compensations: at most one per breached commitment", not repeated,
              f"{len(repeated)} commitments with several {repeated[:3]}"),
    ]


def mail(engine: sa.Engine, received: Counter, scheduler_kills: int) -> list[Check]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, status, message FROM outbox")).all()
        keys = connection.execute(sa.text(
            "SELECT idempotency_key FROM outbox GROUP BY idempotency_key HAVING count(*) > 1")).all()
    by_id = {message_id(bytes(row.message)): row for row in rows}
    statuses = Counter(row.status for row in rows)
    stray = [mid for mid in received if mid not in by_id]
    lost = [row.id for mid, row in by_id.items() if row.status == "sent" and not received[mid]]
    twice = sum(count - 1 for count in received.values() if count > 1)
    window = MARK_EVERY * scheduler_kills
    return [
        Check("emails: every message marked sent reached the SMTP server", not lost and not stray,
              "outbox: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
              + f"; {sum(received.values())} received by the SMTP server; sent but never received {len(lost)}, "
              f"received but not in the outbox {len(stray)}"),
        Check("emails: duplicates within the at-least-once window", twice <= window and not keys,
              f"{twice} sent twice (allowed: {MARK_EVERY} per scheduler killed mid-send = {window}); "
              f"repeated idempotency keys {len(keys)}"),
    ]


def logs(texts: dict[str, str], since: datetime) -> tuple[list[Check], dict]:
    """The log checks, and the server's own time per page (requests after `since` only)."""
    locked = {name: text.lower().count("database is locked") for name, text in texts.items()}
    server_5xx, tracebacks = [], {name: text.count("Traceback") for name, text in texts.items()}
    server_times: dict[str, list[float]] = {}
    for line in texts.get("web.log", "").splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("logger") != "crm.requests":
            continue
        if record.get("status", 0) >= 500:
            server_5xx.append(f"{record.get('method')} {record.get('path')} {record.get('status')}")
        rid = record.get("request_id") or ""
        if rid.startswith("soak-") and record.get("duration_ms") is not None \
                and datetime.fromisoformat(record["ts"]) >= since:
            server_times.setdefault(rid.split("-")[1], []).append(record["duration_ms"])
    return [Check('logs: no "database is locked"', not any(locked.values()),
                  ", ".join(f"{name}: {n}" for name, n in locked.items())
                  + "; tracebacks " + ", ".join(f"{name}: {n}" for name, n in tracebacks.items())
                  + f"; 5xx in the request log: {len(server_5xx)} {server_5xx[:5]}")], server_times
