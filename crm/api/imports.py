"""/api/v1 endpoints of crm.imports."""
from __future__ import annotations

from crm.api import api_blueprint

blp = api_blueprint("api_imports", __name__, url_prefix="/api/v1", description="imports")
