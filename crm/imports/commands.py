"""`flask --app wsgi crm …` commands of crm.imports (registered on the crm group on import)."""
from __future__ import annotations

from crm.commands import crm_cli  # noqa: F401
