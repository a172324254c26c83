"""Request and response shapes of the JSON API; the OpenAPI document is built from them.

This module holds what every part of the API shares (errors, paging, id filters); each
resource's shapes are in the submodule named after it.

Schemas check types only. The rules (lengths, choices, references) live in the
services, so the pages, the API and the CLI refuse exactly the same things.
"""
from functools import partial

from marshmallow import EXCLUDE, Schema, fields, validate

from crm.queries import MAX_ID

# A list filtered by an id: past an id column's range is a 422, never the database's overflow (a
# 500 on PostgreSQL; found by tests/security/test_api_schema_fuzz.py).
IdFilter = partial(fields.Integer, validate=validate.Range(min=1, max=MAX_ID))


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class PageQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, metadata={"description": "From 1"})
    per_page = fields.Integer(load_default=25, metadata={"description": "1 to 100"})


def page_schema(item_schema, name: str):
    """Every list answers this envelope (see crm.api.paging)."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "total": fields.Integer(required=True, allow_none=True,
                                metadata={"description": "null when the list is not counted"}),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "pages": fields.Integer(required=True, allow_none=True,
                                metadata={"description": "null when the list is not counted"}),
        "has_next": fields.Boolean(required=True),
    }, name=name)
