"""API schemas: Message templates, follow-up rules, follow-ups and the outbox."""

from marshmallow import Schema, fields

from crm.api.schemas import IdFilter, PageQuerySchema

OUTBOX_STATUS_DOC = {"enum": ["pending", "sending", "sent", "failed", "cancelled"]}


class TemplateSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["transactional", "marketing"]})
    survey = fields.String(allow_none=True, metadata={"enum": ["nps", "csat", None]})
    languages = fields.Function(lambda template: [text.language for text in template.texts],
                                metadata={"type": "array", "items": {"type": "string"},
                                          "description": "Languages the template has words in"})
    active = fields.Boolean()


class TemplateTextSchema(Schema):
    language = fields.String()
    subject = fields.String()
    body = fields.String()


class TemplateDetailSchema(TemplateSchema):
    texts = fields.List(fields.Nested(TemplateTextSchema))
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class TemplateWriteSchema(Schema):
    """The whole template: both languages' subject and body are required."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["transactional", "marketing"]})
    survey = fields.String(allow_none=True, metadata={"enum": ["nps", "csat", "ces", None]})
    active = fields.Boolean(metadata={"description": "true when left out"})
    subject_es = fields.String(required=True)
    body_es = fields.String(required=True)
    subject_en = fields.String(required=True)
    body_en = fields.String(required=True)


class RuleSchema(Schema):
    """A follow-up rule: which event sends which template, how many days after (or before)."""

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    trigger = fields.String(required=True, metadata={
        "enum": ["after_moment", "before_renewal", "inactivity", "compensation_issued"]})
    template_id = fields.Integer(required=True, strict=True)
    moment_type_id = fields.Integer(allow_none=True, strict=True, metadata={
        "description": "Required for after_moment, ignored otherwise"})
    outcome = fields.String(allow_none=True, metadata={"description": "after_moment only: only this outcome"})
    days = fields.Integer(strict=True, metadata={"minimum": 0, "maximum": 3650, "description": "0 when left out"})
    active = fields.Boolean(metadata={"description": "true when left out"})
    last_error = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Why its last message could not be written, if it failed"})
    created_at = fields.AwareDateTime(dump_only=True)


class FollowUpSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    template = fields.Function(lambda message: message.template.code if message.template else None,
                               allow_none=True, metadata={"type": "string", "description": "The template's code"})
    rule_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"enum": ["transactional", "marketing"]})
    survey = fields.String(allow_none=True)
    status = fields.String(metadata=OUTBOX_STATUS_DOC)
    due_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    attempts = fields.Integer()
    subject = fields.String()
    to_address = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    moment_id = fields.Integer(allow_none=True)
    compensation_id = fields.Integer(allow_none=True)


class OutboxMessageSchema(FollowUpSchema):
    """What admins see: staff alerts too, and where delivery stands."""

    user_id = fields.Integer(allow_none=True, metadata={"description": "The staff member a staff alert goes to"})
    last_error = fields.String(allow_none=True)
    lease_until = fields.AwareDateTime(allow_none=True)


class FollowUpQuerySchema(PageQuerySchema):
    customer_id = IdFilter(load_default=None)
    status = fields.String(load_default=None, metadata=OUTBOX_STATUS_DOC)


class OutboxQuerySchema(PageQuerySchema):
    status = fields.String(load_default=None, metadata=OUTBOX_STATUS_DOC)


class FollowUpCreateSchema(Schema):
    customer_id = fields.Integer(required=True, strict=True)
    template = fields.String(required=True, metadata={"description": "The template's code"})
    due_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When to send it, with its offset; now when left out"})
