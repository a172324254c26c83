"""`flask --app wsgi crm …` commands of crm.exports (registered on the crm group on import)."""
from __future__ import annotations

from crm.commands import crm_cli  # noqa: F401
