"""/api/v1 endpoints of crm.privacy."""
from __future__ import annotations

from crm.api import api_blueprint

blp = api_blueprint("api_privacy", __name__, url_prefix="/api/v1", description="privacy")
