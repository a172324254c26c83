"""/api/v1/import-runs: the uploads made on the imports page and what became of them (read only).

Each person sees their own uploads; admins see everybody's, as on the page. Someone else's
upload answers 404, as if it did not exist. Uploads are kept for a week.
"""
from __future__ import annotations

import io

from flask import send_file
from marshmallow import Schema, fields

from crm.api import api_blueprint, api_user, require_role
from crm.api.paging import page_body
from crm.api.schemas import PageQuerySchema, page_schema
from crm.domain import N_, NotFound
from crm.imports import runs
from crm.pagination import paginate

blp = api_blueprint("api_import_runs", __name__, url_prefix="/api/v1",
                    description="Uploads on the imports page: their checks, imports and error files")


class ImportRunSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": ["customers", "purchases", "moments"]})
    filename = fields.String()
    user_id = fields.Integer(allow_none=True, metadata={"description": "Who uploaded it"})
    created_at = fields.AwareDateTime()
    status = fields.String(metadata={"description": "checked (a dry run), imported, …"})
    encoding = fields.String()
    delimiter = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "rows, created, updated, unchanged, rejected of the last check or import"})
    # From the counts: the list does not load the files (see list_import_runs).
    has_errors = fields.Function(lambda run: bool((run.counts or {}).get("rejected")), metadata={
        "type": "boolean", "description": "Whether `/errors.csv` has rejected rows"})
    finished_at = fields.AwareDateTime(allow_none=True)


class ImportRunDetailSchema(ImportRunSchema):
    columns = fields.Function(
        lambda run: [{"header": name, "field": field}
                     for name, field in zip(runs.header_of(run), run.mapping or [], strict=False)],
        metadata={"type": "array", "items": {"type": "object"},
                  "description": "Each column of the file (`header`) and the field it is read as (`field`, "
                                 "null: ignored)"})


ImportRunPageSchema = page_schema(ImportRunSchema, "ImportRunPage")


@blp.get("/import-runs")
@require_role("supervisor")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, ImportRunPageSchema)
def list_import_runs(args):
    """The caller's uploads, newest first (admins: everybody's), as on the imports page."""
    return page_body(paginate(runs.runs_of(api_user()), args["page"], args["per_page"]))


@blp.get("/import-runs/<id:run_id>")
@require_role("supervisor")
@blp.response(200, ImportRunDetailSchema)
def get_import_run(run_id):
    """One upload: its columns and how each is read, and the counts of its last check or import."""
    return runs.get_run(api_user(), run_id)


@blp.get("/import-runs/<id:run_id>/errors.csv")
@require_role("supervisor")
@blp.doc(summary="The rejected rows of an upload's last check or import, as CSV",
         description="Each rejected row as the file had it, with its line and the reason. 404 when no "
                     "row was rejected.",
         responses={200: {"description": "The CSV file", "content": {"text/csv": {"schema": {"type": "string"}}}}})
def import_run_errors(run_id):
    run = runs.get_run(api_user(), run_id)
    if not run.errors_csv:
        raise NotFound(N_("No row was rejected."))
    name = run.filename.rsplit(".", 1)[0] + ".errors.csv"
    return send_file(io.BytesIO(run.errors_csv), mimetype="text/csv", as_attachment=True, download_name=name)
