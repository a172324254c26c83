"""Realistic Spanish-language customers and contacts at any scale.

Used by `crm seed-demo` (a few thousand rows) and by the benchmarks (a million).
Rows are plain dicts with explicit ids, inserted in batches with bulk INSERTs:
the same shapes the services write, without a service call per row.
Purchases draw from their own random stream, so adding them left the customers
and contacts a given seed produces as they were.
"""
from __future__ import annotations

import random
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import accumulate

from faker import Faker

from crm.customers.lifecycle import STAGES
from crm.customers.search import phone_key, sort_key, terms_for
from crm.demo import catalog
from crm.moments.commitments import plan

EMAIL_DOMAINS = ["gmail.com", "hotmail.es", "yahoo.es", "outlook.es", "telefonica.net", "icloud.com"]
TIER_WEIGHTS = (("basic", 20), ("standard", 65), ("premium", 15))
# Contacts older than this are settled; newer ones may still be open.
SETTLED_AFTER = timedelta(days=4)

# What a bike shop sells: (description, lowest and highest price in whole units, weight).
BIKES = (
    ("Bicicleta urbana", 349, 899, 30), ("Bicicleta de carretera", 899, 4499, 15),
    ("Bicicleta eléctrica", 1499, 3999, 20), ("Bicicleta de montaña", 599, 2999, 15),
    ("Bicicleta infantil", 149, 349, 12), ("Bicicleta gravel", 999, 2799, 8),
)
SERVICES_AND_PARTS = (
    ("Revisión completa", 45, 89, 22), ("Cámara y cubierta", 25, 65, 16), ("Cambio de cadena y piñones", 45, 129, 10),
    ("Pastillas de freno", 15, 39, 10), ("Reparación de pinchazo", 8, 15, 12), ("Ajuste de cambio", 15, 29, 8),
    ("Plan de mantenimiento anual", 79, 149, 6), ("Casco", 39, 149, 6), ("Luces delantera y trasera", 19, 69, 6),
    ("Candado", 25, 89, 5), ("Ropa de ciclismo", 39, 179, 5), ("Sillín", 29, 119, 3), ("Bidón y portabidón", 9, 29, 4),
    ("Batería de repuesto", 399, 749, 1), ("Cuentakilómetros GPS", 99, 399, 2),
)
PRICE_ENDINGS = (0, 50, 90, 95)
# Customers still buying made their last purchase within these days.
THRIVING = ("active", "loyal", "promoter")
RECENT_PURCHASE_DAYS = 120
# How many purchases after the first, per stage: (fewest, most). Prospects buy nothing,
# new customers have made their first purchase only.
LATER_PURCHASES = {"active": (1, 4), "loyal": (3, 8), "promoter": (4, 10), "at_risk": (0, 3), "churned": (0, 2)}


@dataclass
class TypeInfo:
    id: int
    code: str
    phase: str
    channel: str
    cost: Decimal
    levels: dict  # tier -> (first_response_hours, resolution_hours)
    calendar: object = None  # crm.sla.BusinessCalendar the deadlines run on
    calendar_id: int | None = None
    warn_ratio: Decimal = Decimal("0.75")


@dataclass
class CustomerInfo:
    id: int
    stage: str
    tier: str
    owner_id: int
    created_at: datetime


@dataclass
class Ids:
    customer: int = 1
    stage_change: int = 1
    moment: int = 1
    commitment: int = 1
    purchase: int = 1


@dataclass
class DemoGenerator:
    now: datetime
    staff_ids: list[int]
    types: list[TypeInfo]
    seed: int = 1
    ids: Ids = field(default_factory=Ids)
    currency: str = "EUR"

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self.purchase_rng = random.Random(f"purchases-{self.seed}")
        self.bike_weights = list(accumulate(w for *_, w in BIKES))
        self.item_weights = list(accumulate(w for *_, w in SERVICES_AND_PARTS))
        self.fake = Faker(OrderedDict([("es_ES", 0.8), ("es_MX", 0.2)]))
        self.fake.seed_instance(self.seed)
        self.types_by_phase: dict[str, list[TypeInfo]] = {}
        for info in self.types:
            self.types_by_phase.setdefault(info.phase, []).append(info)

    # --- customers -------------------------------------------------------------

    def customers(self, count: int, batch: int = 5000):
        """Yield (customer rows, (customer id, search terms), stage-change rows, infos) batches."""
        made = 0
        while made < count:
            size = min(batch, count - made)
            customers, terms, changes, infos = [], [], [], []
            for i in range(size):
                row, info = self._customer(made + i)
                customers.append(row)
                infos.append(info)
                terms.append((row["id"], tuple(sorted(terms_for(row["name"], row["company"], row["email"],
                                                                row["phone"])))))
                changes.extend(self._history(info))
            made += size
            yield customers, terms, changes, infos

    def _customer(self, index: int):
        rng, fake = self.rng, self.fake
        stage = STAGES[index % len(STAGES)]  # every stage well represented
        segment = rng.choices(catalog.SEGMENTS, weights=[50, 15, 20, 8, 7])[0]
        first, last = fake.first_name(), f"{fake.last_name()} {fake.last_name()}"
        name = f"{first} {last}"
        company = fake.company() if segment in ("Empresa (flota)", "Club ciclista") else None
        local = _ascii(f"{first}.{last.split()[0]}").lower().replace(" ", "")
        email = f"{local}{rng.randint(1, 9999)}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.9 else None
        phone = fake.phone_number() if rng.random() < 0.85 else None
        # A new customer made their first purchase (half-way through their story) recently
        # enough for the inactivity rule (180 days by default) not to call them lost.
        created = self.now - timedelta(days=rng.uniform(20 if stage == "prospect" else 60, 300 if stage == "new" else 730))
        tier = rng.choices([t for t, _ in TIER_WEIGHTS], weights=[w for _, w in TIER_WEIGHTS])[0]
        customer_id = self.ids.customer
        self.ids.customer += 1
        row = {
            "id": customer_id, "name": name, "sort_name": sort_key(name), "email": email, "phone": phone,
            "phone_key": phone_key(phone), "company": company,
            "segment": segment, "stage": stage, "loyalty": catalog.STAGE_LOYALTY[stage], "tier": tier,
            "language": "en" if rng.random() < 0.04 else "es", "marketing_consent": rng.random() < 0.6,
            "owner_id": rng.choice(self.staff_ids), "created_at": created, "updated_at": created,
            # Customers on a maintenance plan renew within the coming year.
            "renewal_date": (self.now + timedelta(days=rng.randint(1, 365))).date()
            if stage in ("active", "loyal", "promoter") and rng.random() < 0.5 else None,
        }
        return row, CustomerInfo(customer_id, stage, tier, row["owner_id"], created)

    def _history(self, info: CustomerInfo) -> list[dict]:
        path = catalog.STAGE_PATHS[info.stage]
        span = (self.now - info.created_at) / len(path)
        rows, previous = [], None
        for step, stage in enumerate(path):
            at = info.created_at + span * step
            rows.append({
                "id": self.ids.stage_change, "customer_id": info.id, "from_stage": previous, "to_stage": stage,
                "at": at, "user_id": info.owner_id, "rule": None,
                "reason": catalog.STAGE_REASONS.get(stage, "Alta del cliente.") if previous else "created",
            })
            self.ids.stage_change += 1
            previous = stage
        return rows

    # --- purchases ---------------------------------------------------------------

    def purchases(self, customers: list[CustomerInfo]) -> list[dict]:
        """Purchase rows that fit each customer's story: the first (usually a bike) when they
        became a customer, later ones up to today, or up to when they started to drift away."""
        rng, rows = self.purchase_rng, []
        for info in customers:
            path = catalog.STAGE_PATHS[info.stage]
            if "new" not in path:
                continue
            step = (self.now - info.created_at) / len(path)
            first = info.created_at + step * path.index("new")
            # At-risk and lost customers stopped buying when they began to drift.
            until = info.created_at + step * path.index("at_risk") if "at_risk" in path else self.now
            rows.append(self._purchase(info, first, BIKES, self.bike_weights))
            if info.stage == "new":
                continue
            low, high = LATER_PURCHASES[info.stage]
            span = (until - first).total_seconds()
            later = rng.randint(low, high)
            for n in range(later):
                bought = first + timedelta(seconds=span * rng.random())
                if n == later - 1 and info.stage in THRIVING:
                    # A customer who still buys bought lately: the inactivity rule leaves them be.
                    bought = max(first, self.now - timedelta(days=RECENT_PURCHASE_DAYS * rng.random()))
                bike = rng.random() < 0.08
                rows.append(self._purchase(info, bought, BIKES if bike else SERVICES_AND_PARTS,
                                           self.bike_weights if bike else self.item_weights))
        return rows

    def _purchase(self, info: CustomerInfo, bought: datetime, items, cum_weights) -> dict:
        rng = self.purchase_rng
        description, low, high, _ = rng.choices(items, cum_weights=cum_weights)[0]
        cents = rng.choice(PRICE_ENDINGS)
        row = {
            "id": self.ids.purchase, "customer_id": info.id,
            "amount": Decimal(f"{rng.randint(low, high)}.{cents:02d}"),
            "currency": self.currency, "purchased_on": bought.date(), "description": description,
            "created_by_id": info.owner_id, "created_at": bought,
        }
        self.ids.purchase += 1
        return row

    # --- moments -----------------------------------------------------------------

    def moments(self, customers: list[CustomerInfo], count: int, batch: int = 10000):
        """Yield (moment rows, commitment rows) batches, about `count` moments in all."""
        made = 0
        # Cumulative weights once: choices() would otherwise re-add them on every draw.
        cum_weights = list(accumulate(3 if c.stage in ("active", "loyal", "promoter", "at_risk") else 1
                                      for c in customers))
        while made < count:
            moments, commitments = [], []
            target = min(batch, count - made)
            while len(moments) < target:
                customer = self.rng.choices(customers, cum_weights=cum_weights)[0]
                self._contact(customer, moments, commitments)
            made += len(moments)
            yield moments, commitments

    def _contact(self, customer: CustomerInfo, moments: list, commitments: list) -> None:
        rng = self.rng
        phase = rng.choice(catalog.STAGE_PHASES[customer.stage])
        info = rng.choice(self.types_by_phase[phase])
        lifetime = max((self.now - customer.created_at).total_seconds(), 3600)
        # Recent contacts are more frequent than old ones.
        occurred = self.now - timedelta(seconds=lifetime * rng.random() ** 2)
        first = self._moment_row(customer, info, occurred, follows=None)
        moments.append(first)
        commitments.extend(self._commitments(first, customer, info))
        # Some matters need a second contact, linked to the first.
        if info.code in ("reclamacion", "reparacion", "presupuesto") and rng.random() < 0.3:
            later = occurred + timedelta(hours=rng.uniform(2, 60))
            if later < self.now:
                second = self._moment_row(customer, info, later, follows=first)
                moments.append(second)
                if first["outcome"] != "resolved":
                    for row in commitments:
                        if row["moment_id"] == first["id"] and row["status"] == "open":
                            row.update(status="met", met_at=later, met_by_id=second["staff_id"])

    def _moment_row(self, customer: CustomerInfo, info: TypeInfo, occurred: datetime, follows):
        rng = self.rng
        settled = self.now - occurred > SETTLED_AFTER
        outcome = rng.choices(["resolved", "pending", "escalated"],
                              weights=[75, 20, 5] if settled else [40, 55, 5])[0]
        if follows is None and info.code == "reclamacion" and settled and rng.random() < 0.3:
            outcome = "pending"  # not solved on the first contact: a second one follows
        weights = catalog.EMOTION_WEIGHTS.get(info.code, catalog.DEFAULT_EMOTION_WEIGHTS)
        emotion = rng.choices([-2, -1, 0, 1, 2], weights=weights)[0] if rng.random() < 0.85 else None
        moment_id = self.ids.moment
        self.ids.moment += 1
        return {
            "id": moment_id, "customer_id": customer.id, "moment_type_id": info.id, "channel": info.channel,
            "staff_id": customer.owner_id if rng.random() < 0.7 else rng.choice(self.staff_ids),
            "occurred_at": occurred, "emotion": emotion,
            "notes": rng.choice(catalog.NOTES.get(info.code, [""])), "cost": info.cost, "outcome": outcome,
            "follows_moment_id": follows["id"] if follows else None,
            "incident_id": follows["incident_id"] if follows else moment_id, "created_at": occurred,
        }

    def _commitments(self, moment: dict, customer: CustomerInfo, info: TypeInfo) -> list[dict]:
        rows = []
        for kind, hours in zip(("first_response", "resolution"), info.levels.get(customer.tier, (None, None)), strict=True):
            if hours is None:
                continue
            deadline = plan(info.calendar, moment["occurred_at"], hours, info.warn_ratio)
            due = deadline.due_at
            met_at = None
            if moment["outcome"] == "resolved":
                met_at = moment["occurred_at"]
            elif self.now - moment["occurred_at"] > SETTLED_AFTER:
                # Settled long ago: mostly in time, sometimes late.
                met_at = info.calendar.add(moment["occurred_at"],
                                           timedelta(hours=float(hours) * self.rng.uniform(0.1, 1.3)))
                if met_at > self.now:  # not kept yet: still open today
                    met_at = None
            rows.append({
                "id": self.ids.commitment, "moment_id": moment["id"], "customer_id": customer.id,
                "owner_id": moment["staff_id"], "kind": kind, "status": "met" if met_at else "open",
                "calendar_id": info.calendar_id, "starts_at": moment["occurred_at"], "due_at": due,
                "warn_at": deadline.warn_at, "warned_at": None, "paused_at": None, "remaining_seconds": None,
                "met_at": met_at, "met_by_id": moment["staff_id"] if met_at else None, "breached_at": None,
            })
            self.ids.commitment += 1
        return rows


def activity_from_purchases(purchase_rows: list[dict]) -> dict[int, datetime]:
    """Customer id -> the start (UTC) of the day of their latest purchase, which is what
    recording a purchase sets as the customer's last activity."""
    latest: dict[int, datetime] = {}
    for row in purchase_rows:
        day = datetime.combine(row["purchased_on"], time.min, tzinfo=timezone.utc)
        if row["customer_id"] not in latest or latest[row["customer_id"]] < day:
            latest[row["customer_id"]] = day
    return latest


def _ascii(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
