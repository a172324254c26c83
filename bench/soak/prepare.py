"""Build the soak's database: migrations, the demo business, the soak's staff, a search sample.

Run in its own process (`python -m bench.soak.prepare OUT.json`) with the server's
environment (CRM_DATABASE_URL…), so it builds exactly the database the server will use.
"""
from __future__ import annotations

import json
import random
import sys

from sqlalchemy import select

PASSWORD = "soak-password"  # a throwaway database on loopback, dropped after the run


def prepare(out_path: str, customers: int, moments: int, agents: int, supervisors: int, seed: int) -> None:
    from flask_migrate import upgrade

    from crm import create_app
    from crm.auth.models import Team, User
    from crm.customers.models import Customer
    from crm.demo.seed import seed_demo
    from crm.extensions import db
    from crm.types import utc_now

    app = create_app()
    with app.app_context():
        upgrade()
        now = utc_now()
        seed_demo(customers=customers, moments=moments, seed=seed, now=now)
        db.session.commit()
        team_id = db.session.scalar(select(Team.id).order_by(Team.id))
        template = User(email="x@soak.local", name="x", role="agent")
        template.set_password(PASSWORD)  # one hash for everybody: scrypt on 55 users is slow
        staff = [(f"agent{n:02d}@soak.local", f"Agente {n:02d}", "agent") for n in range(1, agents + 1)]
        staff += [(f"supervisor{n}@soak.local", f"Supervisora {n}", "supervisor") for n in range(1, supervisors + 1)]
        for email, name, role in staff:
            db.session.add(User(email=email, name=name, role=role, team_id=team_id, created_at=now,
                                password_hash=template.password_hash))
        db.session.commit()
        rows = db.session.execute(select(Customer.id, Customer.name).where(Customer.erased_at.is_(None))).all()
        sample = random.Random(seed).sample(rows, min(800, len(rows)))
        with open(out_path, "w", encoding="utf-8") as out:
            json.dump({"password": PASSWORD, "agents": [s[0] for s in staff if s[2] == "agent"],
                       "supervisors": [s[0] for s in staff if s[2] == "supervisor"],
                       "customers": [[cid, name] for cid, name in sample]}, out, ensure_ascii=False)


if __name__ == "__main__":
    path, customers, moments, agents, supervisors, seed = sys.argv[1], *map(int, sys.argv[2:7])
    prepare(path, customers, moments, agents, supervisors, seed)
