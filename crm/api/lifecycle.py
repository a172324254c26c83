"""/api/v1/lifecycle-rules: the lifecycle automation's rules (read: supervisors; change: admins)."""
from __future__ import annotations

from marshmallow import Schema, fields

from crm.api import api_blueprint, api_user, require_role, transaction
from crm.api.paging import list_page
from crm.api.schemas import PageQuerySchema, page_schema
from crm.customers import automation
from crm.customers.automation_rules import RULES_BY_CODE
from crm.extensions import db
from crm.types import utc_now

blp = api_blueprint("api_lifecycle", __name__, url_prefix="/api/v1",
                    description="Lifecycle rules: how customers move along the loyalty ladder")


class LifecycleRuleSchema(Schema):
    code = fields.String(dump_only=True)
    enabled = fields.Boolean(dump_only=True)
    stage = fields.Function(lambda row: RULES_BY_CODE[row.code].stage, dump_only=True)
    loyalty = fields.Function(lambda row: RULES_BY_CODE[row.code].loyalty, dump_only=True, allow_none=True)
    params = fields.Function(lambda row: automation.effective_params(row.code, row.params), dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True, allow_none=True)


LifecycleRulePageSchema = page_schema(LifecycleRuleSchema, "LifecycleRulePage")


class LifecycleRunSchema(Schema):
    customers = fields.Integer(metadata={"description": "Customers whose stage or loyalty changed"})
    stage_moves = fields.Dict(keys=fields.String(), values=fields.Integer(),
                              metadata={"description": "Stage moves per rule code"})
    loyalty_changes = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                  metadata={"description": "Loyalty changes per rule code"})
    disabled = fields.List(fields.String(), metadata={"description": "Rules that are off, not applied"})


class LifecycleRuleUpdateSchema(Schema):
    enabled = fields.Boolean()
    params = fields.Dict(keys=fields.String(), values=fields.Raw())


@blp.get("/lifecycle-rules")
@require_role("supervisor")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, LifecycleRulePageSchema)
def list_lifecycle_rules(args):
    """Every rule in the order they are applied: on or off, where it moves customers, its settings."""
    rows = automation.rules()
    db.session.commit()  # rules read for the first time are stored with their defaults
    return list_page(rows, args)


@blp.post("/lifecycle-rules/run")
@require_role("admin")
@blp.response(200, LifecycleRunSchema)
def run_lifecycle_rules():
    """Apply the rules that are on to every customer now, as the nightly run does (admins).
    Customers are written in chunks, each committed; running it twice changes nothing more."""
    result = automation.apply_lifecycle_rules(utc_now(), api_user(), checkpoint=db.session.commit)
    db.session.commit()
    return result


@blp.put("/lifecycle-rules/<string(maxlength=40):code>")
@require_role("admin")
@blp.arguments(LifecycleRuleUpdateSchema)
@blp.response(200, LifecycleRuleSchema)
def update_lifecycle_rule(data, code):
    """Switch a rule on or off and change some of its settings (`params`); what is left out stays.

    Refused with 422: a setting the rule does not have, a number out of range, or a
    referral moment type code no moment type has. Unknown rule: 404."""
    with transaction():
        row = automation.save_rule(api_user(), code, data, utc_now())
    return row
