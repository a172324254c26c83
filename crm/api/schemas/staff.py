"""API schemas: Staff accounts and teams."""

from marshmallow import Schema, fields


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    team_id = fields.Integer(allow_none=True, strict=True)
    locale = fields.String(allow_none=True)
    active = fields.Boolean()
    password = fields.String(load_only=True, required=True)
    created_at = fields.AwareDateTime(dump_only=True)


class UserUpdateSchema(UserSchema):
    """Only what is sent changes; a password left out stays."""

    email = fields.String()
    name = fields.String()
    role = fields.String()
    password = fields.String(load_only=True)


class TeamSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    kind = fields.String(metadata={"enum": ["internal", "partner"], "description": "internal when left out"})
    description = fields.String(allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)
