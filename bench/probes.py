"""Probe customers: the same customer, with the same history, in every database.

The customer page lists a customer's timeline, so its time depends on what that
customer has: a random customer of the 10,000-moment database has almost no contacts,
one of the 1,000,000-moment database about ten. Comparing those two figures measures
two different pages. The probes make the comparison fair: `bench.run` adds them to
the working copy of each database, each probe with an identical history (the same
contacts, stage changes and commitments, at the same instants), and the customer
page measured on them is the row judged against the target; a larger database then
only adds other customers' rows around the same page.

The history is the demo generator's own (`crm.demo.generator.DemoGenerator` with a
fixed seed, the demo's moment types and calendar): a loyal customer with about 25
contacts over its lifetime, follow-ups and commitments as the generator makes them,
the last of them recent so some commitments are still open. One template customer is
generated, then copied to every probe with new ids. The copies are inserted round-
robin (the k-th row of every probe, then the (k+1)-th...), so one probe's rows lie on
different database pages, as a real customer's do, instead of sharing one or two.
They all come after the generated rows (the newest ids), at both scales alike.

Probes are added to the working copies only (the cached databases stay the demo's
data), after the random workload was drawn, so they never receive the logged moments
and the random figures stay comparable with earlier runs. They get no search terms:
no search of the workload can find them, so the search figures do not change either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PROBES = 50
PROBE_CONTACTS = 25
PROBE_SEED = 25
PROBE_STAGE = "loyal"
PROBE_NAME = "Sonda de Rendimiento"
PROBE_EMAIL = "sonda.rendimiento@example.invalid"
PROBE_PHONE = "+34 600 000 000"


@dataclass
class Probes:
    customer_ids: list[int] = field(default_factory=list)
    contacts: int = 0
    stage_changes: int = 0
    commitments: int = 0
    commitments_met: int = 0
    timeline_entries: int = 0
    first_page: str = ""  # what the first page of the timeline lists

    def describe(self) -> str:
        return (f"{len(self.customer_ids)} probe customers, each with the same {self.contacts} contacts, "
                f"{self.stage_changes} stage changes and {self.commitments} commitments "
                f"({self.commitments_met} met): {self.timeline_entries} timeline entries, the first page "
                f"lists {self.first_page}")


def insert_probes(now: datetime, count: int = PROBES, contacts: int = PROBE_CONTACTS) -> Probes:
    """Add `count` identical probe customers to the app's database (in an app context) and commit.

    `now` is the instant the history ends: give every database the same one."""
    from sqlalchemy import insert, select

    from crm.auth.models import User
    from crm.customers.lifecycle import STAGES
    from crm.customers.models import Customer, StageChange
    from crm.customers.search import phone_key, sort_key
    from crm.customers.services import TIMELINE_PAGE
    from crm.demo.generator import DemoGenerator, Ids
    from crm.demo.seed import next_ids, type_infos
    from crm.extensions import db
    from crm.moments.models import Commitment, Moment, MomentType

    # What crm.demo.seed hands the generator: the demo staff, types and calendar.
    staff_ids = list(db.session.scalars(select(User.id).where(User.role != "admin").order_by(User.id)))
    types = type_infos(list(db.session.scalars(select(MomentType).order_by(MomentType.id))))
    generator = DemoGenerator(now=now, staff_ids=staff_ids, types=types, seed=PROBE_SEED, ids=Ids())

    # The template: the first generated customer at the probe's stage, with its history.
    customers, _, changes, infos = next(generator.customers(len(STAGES)))
    index = next(i for i, info in enumerate(infos) if info.stage == PROBE_STAGE)
    template, info = customers[index], infos[index]
    changes = [row for row in changes if row["customer_id"] == template["id"]]
    moments, commitments = next(generator.moments([info], contacts, batch=contacts))

    base = next_ids()
    first_moment = min(row["id"] for row in moments)

    def customer_id(p):
        return base.customer + p

    def moment_id(template_id, p):  # round-robin: template row k of probe p
        return base.moment + (template_id - first_moment) * count + p

    probe_customers = [dict(template, id=customer_id(p), name=PROBE_NAME, sort_name=sort_key(PROBE_NAME),
                            email=PROBE_EMAIL, phone=PROBE_PHONE, phone_key=phone_key(PROBE_PHONE))
                       for p in range(count)]
    probe_changes = [dict(row, id=base.stage_change + k * count + p, customer_id=customer_id(p))
                     for k, row in enumerate(changes) for p in range(count)]
    probe_moments = [dict(row, id=moment_id(row["id"], p), customer_id=customer_id(p),
                          incident_id=moment_id(row["incident_id"], p),
                          follows_moment_id=moment_id(row["follows_moment_id"], p) if row["follows_moment_id"] else None)
                     for row in moments for p in range(count)]
    probe_commitments = [dict(row, id=base.commitment + k * count + p, customer_id=customer_id(p),
                              moment_id=moment_id(row["moment_id"], p))
                         for k, row in enumerate(commitments) for p in range(count)]
    db.session.execute(insert(Customer), probe_customers)
    db.session.execute(insert(StageChange), probe_changes)
    db.session.execute(insert(Moment), probe_moments)
    if probe_commitments:
        db.session.execute(insert(Commitment), probe_commitments)
    db.session.commit()

    met = sum(1 for row in commitments if row["met_at"] is not None)
    entries = sorted([(row["occurred_at"], "contacts") for row in moments]
                     + [(row["at"], "stage changes") for row in changes]
                     + [(row["met_at"], "commitments met") for row in commitments if row["met_at"] is not None],
                     key=lambda entry: entry[0], reverse=True)[:TIMELINE_PAGE]
    kinds = [kind for _, kind in entries]
    first_page = ", ".join(f"{kinds.count(kind)} {kind}" for kind in dict.fromkeys(kinds))
    return Probes(customer_ids=[customer_id(p) for p in range(count)], contacts=len(moments),
                  stage_changes=len(changes), commitments=len(commitments), commitments_met=met,
                  timeline_entries=len(moments) + len(changes) + met, first_page=first_page)
