"""The follow-ups blueprint. Its routes live by audience, each module adding to `bp`:

- `admin_views`: templates (with preview), rules, the outbox and sent mail (admins);
- `customer_views`: a customer's follow-ups panel, one-off messages (staff);
- `public_views`: the survey and unsubscribe pages customers reach from an email (no login).
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("followups", __name__)

from crm.followups import admin_views, customer_views, public_views  # noqa: E402,F401  (they register routes)
