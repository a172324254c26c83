"""API schemas: Customers and their lifecycle stages."""

from marshmallow import Schema, fields

from crm.api.schemas import IdFilter, PageQuerySchema


class CustomerSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    segment = fields.String(allow_none=True)
    stage = fields.String()
    loyalty = fields.String()
    tier = fields.String()
    language = fields.String()
    marketing_consent = fields.Boolean()
    owner_id = fields.Integer(allow_none=True, strict=True)
    renewal_date = fields.Date(allow_none=True, metadata={"description": "When the contract or plan renews"})
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class CustomerCreateSchema(CustomerSchema):
    class Meta:
        exclude = ("created_at", "updated_at")

    name = fields.String(required=True)


class CustomerUpdateSchema(CustomerSchema):
    class Meta:
        exclude = ("stage", "created_at", "updated_at")


class CustomerQuerySchema(PageQuerySchema):
    q = fields.String(load_default="")
    stage = fields.String(load_default=None)
    segment = fields.String(load_default=None)
    owner_id = IdFilter(load_default=None)


class StageChangeRequestSchema(Schema):
    stage = fields.String(required=True)
    reason = fields.String(required=True)


class StageChangeSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    from_stage = fields.String(allow_none=True)
    to_stage = fields.String()
    at = fields.AwareDateTime()
    user_id = fields.Integer(allow_none=True)
    rule = fields.String(allow_none=True)
    reason = fields.String()
