"""Two sweeps at the same instant (two schedulers, say) break and compensate each commitment once."""
import threading
import time
from datetime import timedelta

from sqlalchemy import func, select

from crm.auth.models import User
from crm.compensations.models import Compensation
from crm.compensations.services import save_policy
from crm.customers.services import create_customer
from crm.extensions import db
from crm.moments.models import Commitment
from crm.moments.services import log_moment
from crm.moments.sweep import sweep_commitments


def test_two_concurrent_sweeps_do_everything_exactly_once(app, agent, admin, moment_type, now):
    with app.app_context():
        actor = db.session.get(User, agent.id)
        save_policy(db.session.get(User, admin.id), None, {"kind": "credit", "value": "5"}, now)
        for i in range(60):
            customer = create_customer(actor, {"name": f"Cliente {i}"}, now)
            log_moment(actor, {"customer_id": customer.id, "moment_type": "complaint"}, now)
        db.session.commit()
        engine = db.engine.dialect.name

    later = now + timedelta(days=5)
    start = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        with app.app_context():
            try:
                start.wait()
                results.append(sweep_commitments(later))
                # Hold the transaction open: the other sweep's UPDATE runs meanwhile and must
                # wait on these rows (PostgreSQL) or the write lock (SQLite), then find nothing.
                time.sleep(0.3)
                db.session.commit()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
                db.session.rollback()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sum(r.breached for r in results) == 120, (engine, results)
    assert sorted(r.breached for r in results) == [0, 120]  # one did it all, the other found it done
    assert sum(r.proposed for r in results) == 120
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Commitment)
                                 .where(Commitment.status == "breached")) == 120
        assert db.session.scalar(select(func.count()).select_from(Compensation)) == 120
        assert db.session.scalar(select(func.count(func.distinct(Compensation.commitment_id)))) == 120


def _approved_compensation(app, agent, admin, moment_type, now) -> int:
    with app.app_context():
        save_policy(db.session.get(User, admin.id), None, {"kind": "credit", "value": "5"}, now)
        customer = create_customer(db.session.get(User, agent.id), {"name": "Cliente"}, now)
        log_moment(db.session.get(User, agent.id), {"customer_id": customer.id, "moment_type": "complaint"}, now)
        sweep_commitments(now + timedelta(days=5))
        compensation = db.session.scalars(select(Compensation).limit(1)).one()
        compensation.status = "approved"
        db.session.commit()
        return compensation.id


def test_two_supervisors_deciding_at_once_only_one_succeeds(app, agent, admin, make_user, moment_type, now):
    """Both load it as "approved"; both press Issue: one issues, the other is told it changed."""
    from crm.audit import AuditEvent
    from crm.compensations.services import get_compensation, issue
    from crm.domain import Conflict

    compensation_id = _approved_compensation(app, agent, admin, moment_type, now)
    supervisors = [make_user("supervisor") for _ in range(2)]
    loaded = threading.Barrier(2)
    outcomes = []

    def decide(supervisor):
        with app.app_context():
            try:
                actor = db.session.get(User, supervisor.id)
                compensation = get_compensation(compensation_id)
                assert compensation.status == "approved"
                loaded.wait()
                issue(actor, compensation, now + timedelta(days=5))
                time.sleep(0.2)  # hold the transaction: the other decision must wait, then find it issued
                db.session.commit()
                outcomes.append(("issued", supervisor.id))
            except Conflict as exc:
                db.session.rollback()
                outcomes.append(("refused", exc.message))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(s,)) for s in supervisors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(kind for kind, _ in outcomes) == ["issued", "refused"], outcomes
    winner = next(who for kind, who in outcomes if kind == "issued")
    assert ("refused", "only an approved compensation can be issued") in outcomes
    with app.app_context():
        stored = db.session.get(Compensation, compensation_id)
        assert (stored.status, stored.issued_by_id) == ("issued", winner)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "compensation.issued")) == 1
