"""/api/v1/imports: load a CSV file of customers, purchases or contacts (or only check it)."""
from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, Schema, fields, validate

from crm.api import api_blueprint, api_user, require_role
from crm.errors import error_response
from crm.extensions import db
from crm.imports import services
from crm.imports.fields import KINDS
from crm.imports.views import max_bytes
from crm.types import utc_now

blp = api_blueprint("api_imports", __name__, url_prefix="/api/v1", description="imports")
SHOWN_ERRORS = 1000


class ImportQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    dry_run = fields.Boolean(load_default=False, metadata={"description": "Check every row and write nothing."})


class ImportFileSchema(Schema):
    file = Upload(required=True, metadata={"description": "The CSV file (UTF-8 or Windows-1252; ';' or ',')."})


class ImportCountsSchema(Schema):
    rows = fields.Integer(required=True)
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    rejected = fields.Integer(required=True)


class ImportErrorSchema(Schema):
    line = fields.Integer(required=True, metadata={"description": "The line of the file the row starts on."})
    reason = fields.String(required=True)
    cells = fields.List(fields.String(), required=True, metadata={"description": "The row as the file has it."})
    fields = fields.Dict(keys=fields.String(), values=fields.String())  # last: it shadows the module


class ImportResultSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    dry_run = fields.Boolean(required=True)
    encoding = fields.String(required=True)
    delimiter = fields.String(required=True)
    columns = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                          metadata={"description": "Each header of the file and the field it was read as."})
    counts = fields.Nested(ImportCountsSchema, required=True)
    errors = fields.List(fields.Nested(ImportErrorSchema), required=True)
    errors_truncated = fields.Boolean(required=True)


@blp.url_value_preprocessor
def _allow_large_uploads(endpoint, values):
    if endpoint == "api_imports.import_file":
        request.max_content_length = max_bytes()


@blp.post("/imports/<string:kind>")
@require_role("supervisor")
@blp.arguments(ImportQuerySchema, location="query")
@blp.arguments(ImportFileSchema, location="files")
@blp.response(200, ImportResultSchema)
def import_file(query, files, kind):
    """Import a CSV file (`kind`: customers, purchases or moments), or check it with `dry_run=true`.

    Rows are written in batches, each in its own transaction; customers are matched by
    email, then phone, and updated; the same file sent again changes nothing. Every
    rejected row is answered with its line and reason (the first 1,000)."""
    if kind not in KINDS:
        abort(404)
    dry_run = query["dry_run"]
    try:
        summary = services.run_import(kind, files["file"].stream, actor=api_user(), now=utc_now(), dry_run=dry_run,
                                      commit=None if dry_run else db.session.commit, keep_errors=SHOWN_ERRORS)
    except services.ImportInterrupted as exc:
        db.session.rollback()
        return error_response(500, "import_interrupted", _(services.INTERRUPTED, line=exc.line))
    except Exception:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return {
        "kind": kind, "dry_run": dry_run, "encoding": summary.dialect.label, "delimiter": summary.dialect.delimiter,
        "columns": {name or f"#{i + 1}": summary.mapping.get(i) for i, name in enumerate(summary.header)},
        "counts": summary.counts(),
        "errors": [{"line": e.line, "reason": e.reason(), "cells": e.cells,
                    "fields": {name: err.translated() for name, err in e.errors.items()}} for e in summary.errors],
        "errors_truncated": summary.rejected > len(summary.errors),
    }
