"""/api/v1 endpoints of crm.feeds."""
from __future__ import annotations

from crm.api import api_blueprint

blp = api_blueprint("api_feeds", __name__, url_prefix="/api/v1", description="feeds")
