"""Daily rollups: each local day's additive figures, so a period reads a few hundred rows
instead of every contact.

A period's contact-based figures (contacts and their cost, logged emotion, survey answers,
incidents resolved, commitments kept or broken, compensations issued, revenue) are sums of
what happened on each of its local days, and so are the customers present at an instant
(created, minus moves into churned, plus moves out of it). This package keeps those sums
per local day (in the company's time zone), touchpoint (moment type, channel) and customer
(segment, tier) — `models` — and:

- `marking`: every write that can change a day's figures marks that day dirty in its own
  transaction: ORM inserts, updates and deletes of contacts, commitments, compensations,
  survey answers, purchases, customers and stage changes (a customer's segment or tier
  change marks every day of theirs) through a session hook, and the few bulk UPDATEs
  through `mark_instants` / `mark_moments` / `mark_customers`;
- `build`: `refresh` rebuilds the dirty days, then the days never built. Markers are only
  ever inserted (never upserted), and a refresh deletes only the markers it read, so a
  write that commits while a day is being rebuilt leaves its marker for the next one;
- `read`: **always exact** — a day is read from the rollup only when it was built for the
  company's time zone and nothing has changed it since; every other day of a period is
  counted live from the source tables, with the same queries.

The scheduler refreshes every minute, so at most the current minute's days are counted
live; `flask --app wsgi crm refresh-rollups` does the same by hand.
"""
from crm.insights.rollup.build import build_days, first_day, initial_stage, refresh, refresh_all
from crm.insights.rollup.days import company_zone, local_day
from crm.insights.rollup.marking import mark_customers, mark_instants, mark_moments
from crm.insights.rollup.models import (
    ADVISORY_LOCK,
    RollupAnswers,
    RollupCustomers,
    RollupDay,
    RollupDirty,
    RollupFigures,
    RollupRevenue,
)
from crm.insights.rollup.read import customers_before, in_days, plan, split_days, whole_days

__all__ = ["ADVISORY_LOCK", "RollupAnswers", "RollupCustomers", "RollupDay", "RollupDirty", "RollupFigures",
           "RollupRevenue", "build_days", "company_zone", "customers_before", "first_day", "in_days",
           "initial_stage", "local_day", "mark_customers", "mark_instants", "mark_moments", "plan", "refresh",
           "refresh_all", "split_days", "whole_days"]
