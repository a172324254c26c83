"""/api/v1 endpoints of crm.exports: the same streamed CSV files as the pages.

Supervisors and admins only (an agent's token gets 403): an export is the whole customer base.
"""
from __future__ import annotations

from flask import abort, request

from crm.api import api_blueprint, api_user, require_role
from crm.exports.filters import ACCEPTED, ENTITIES
from crm.exports.responses import csv_download

blp = api_blueprint("api_exports", __name__, url_prefix="/api/v1", description="exports")

_FILTER_DOC = "; ".join(f"{entity}: {', '.join(names)}" for entity, names in ACCEPTED.items())


@blp.get("/exports/<entity>.csv")
@blp.doc(
    summary="Export one kind of record as CSV, streamed",
    description=(
        "`entity` is one of " + ", ".join(ENTITIES) + ". `format=csv` (default: UTF-8, `,`, decimal point) or "
        "`format=excel` (UTF-8 with BOM, `;`, decimal comma). Filters by entity — " + _FILTER_DOC + ". "
        "`owner`, `customer`, `team` and `moment_type` also accept the `_id` spelling, `from`/`to` also "
        "`since`/`until` (local days, inclusive); `status` may be repeated for commitments. "
        "Bad filter values give 422 naming them. Rows are ordered by id."),
    responses={200: {"description": "The CSV file", "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
@require_role("supervisor")
def export_csv(entity: str):
    if entity not in ENTITIES:
        abort(404)
    return csv_download(api_user(), entity, request.args, via="api")
