"""Routes: see crm/followups/views.py."""
from crm.followups.views import bp  # noqa: F401
