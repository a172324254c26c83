"""API schemas: Purchases."""

from marshmallow import Schema, fields

from crm.api.schemas import PageQuerySchema


class PurchaseSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    amount = fields.Decimal(as_string=True, metadata={"description": "Two decimals, as a string: \"12.50\""})
    currency = fields.String(metadata={"description": "ISO 4217 code"})
    purchased_on = fields.Date()
    description = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()


class PurchaseCreateSchema(Schema):
    customer_id = fields.Integer(required=True, strict=True)
    amount = fields.Raw(required=True, metadata={
        "description": 'More than 0, at most 1,000,000, two decimals at most; "12.50", "12,50" or 12.5',
        "oneOf": [{"type": "string"}, {"type": "number"}]})
    currency = fields.String(allow_none=True, metadata={
        "description": "ISO 4217 code; the business's currency when left out"})
    purchased_on = fields.String(required=True, metadata={
        "format": "date", "description": "YYYY-MM-DD, from 2000 up to tomorrow"})
    description = fields.String(allow_none=True, metadata={"description": "What was bought (up to 500 characters)"})


class PurchaseQuerySchema(PageQuerySchema):
    customer_id = fields.Integer(load_default=None)
    since = fields.Date(load_default=None, data_key="from", metadata={"description": "First day, inclusive"})
    until = fields.Date(load_default=None, data_key="to", metadata={"description": "Last day, inclusive"})
