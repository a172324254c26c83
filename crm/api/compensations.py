"""/api/v1/compensations and /api/v1/calendars: review, decide, issue; business calendars."""
from __future__ import annotations

from flask import abort

from crm.api import api_blueprint, api_user, require_role, transaction
from crm.api.paging import list_page, page_body
from crm.api.schemas import PageQuerySchema, page_schema
from crm.api.schemas.compensations import (
    ApproveSchema,
    CalendarSchema,
    CalendarUpdateSchema,
    CompensationQuerySchema,
    CompensationSchema,
    GoodwillLimitSchema,
    GoodwillSchema,
    PolicySchema,
    RejectSchema,
)
from crm.calendars import services as calendars
from crm.compensations import services
from crm.extensions import db
from crm.moments.services import get_moment
from crm.types import utc_now

blp = api_blueprint("api_compensations", __name__, url_prefix="/api/v1",
                    description="Compensations for broken promises; business calendars")
CompensationPageSchema = page_schema(CompensationSchema, "CompensationPage")
CalendarPageSchema = page_schema(CalendarSchema, "CalendarPage")
PolicyPageSchema = page_schema(PolicySchema, "PolicyPage")
GoodwillLimitPageSchema = page_schema(GoodwillLimitSchema, "GoodwillLimitPage")
# The roles whose on-the-spot grants have a limit (admins have none), as on the policies page.
GOODWILL_ROLES = ("agent", "supervisor")


@blp.get("/compensations")
@blp.arguments(CompensationQuerySchema, location="query")
@blp.response(200, CompensationPageSchema)
def list_compensations(args):
    """Compensations, newest first; filter by status, customer, team, moment type, tier and period."""
    return page_body(services.list_compensations(**args))


@blp.post("/compensations/<id:compensation_id>/approve")
@require_role("supervisor")
@blp.arguments(ApproveSchema)
@blp.response(200, CompensationSchema)
def approve(data, compensation_id):
    """Approve a proposed compensation, optionally with another value and a note (supervisors)."""
    compensation = services.approve(api_user(), services.get_compensation(compensation_id), utc_now(),
                                    value=data.get("value"), note=data.get("note"))
    db.session.commit()
    return compensation


@blp.post("/compensations/<id:compensation_id>/reject")
@require_role("supervisor")
@blp.arguments(RejectSchema)
@blp.response(200, CompensationSchema)
def reject(data, compensation_id):
    """Reject a proposed compensation with a reason (supervisors)."""
    compensation = services.reject(api_user(), services.get_compensation(compensation_id), data["reason"],
                                   utc_now())
    db.session.commit()
    return compensation


@blp.post("/compensations/<id:compensation_id>/issue")
@require_role("supervisor")
@blp.response(200, CompensationSchema)
def issue(compensation_id):
    """Issue an approved compensation: it counts as a cost and the customer's notice is written."""
    compensation = services.issue(api_user(), services.get_compensation(compensation_id), utc_now())
    db.session.commit()
    return compensation


@blp.post("/moments/<id:moment_id>/goodwill")
@blp.arguments(GoodwillSchema)
@blp.response(201, CompensationSchema)
def goodwill(data, moment_id):
    """Grant a compensation on the spot while handling a contact, up to the role's limit."""
    compensation = services.grant_goodwill(api_user(), get_moment(moment_id), data, utc_now())
    db.session.commit()
    return compensation


@blp.get("/calendars")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, CalendarPageSchema)
def list_calendars(args):
    """Business calendars: opening hours, time zone, public holidays and closures."""
    return list_page(calendars.list_calendars(), args)


@blp.get("/calendars/<id:calendar_id>")
@blp.response(200, CalendarSchema)
def get_calendar(calendar_id):
    """One business calendar."""
    return calendars.get_calendar(calendar_id)


@blp.post("/calendars")
@require_role("admin")
@blp.arguments(CalendarSchema)
@blp.response(201, CalendarSchema)
def create_calendar(data):
    """Add a business calendar (admins): opening hours per weekday (split shifts allowed), time
    zone, the country (and region) whose public holidays close it, and its own closures."""
    with transaction():
        calendar = calendars.save_calendar(api_user(), None, data, utc_now())
    return calendar


@blp.patch("/calendars/<id:calendar_id>")
@require_role("admin")
@blp.arguments(CalendarUpdateSchema)
@blp.response(200, CalendarSchema)
def update_calendar(data, calendar_id):
    """Change a business calendar (admins); only the fields sent change. `closures`, when
    sent, replaces the list; `country: null` drops the public holidays."""
    calendar = calendars.get_calendar(calendar_id)
    with transaction():
        calendars.save_calendar(api_user(), calendar, data, utc_now())
    return calendar


# --- compensation policies and goodwill limits -------------------------------------------------

@blp.get("/compensation-policies")
@require_role("admin")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, PolicyPageSchema)
def list_policies(args):
    """What each broken promise earns, per moment type and tier (admins)."""
    return list_page(services.list_policies(), args)


@blp.post("/compensation-policies")
@require_role("admin")
@blp.arguments(PolicySchema)
@blp.response(201, PolicySchema)
def create_policy(data):
    """Add a compensation policy (admins). Refused with 409 when the moment type and tier
    already have one."""
    with transaction():
        policy = services.save_policy(api_user(), None, data, utc_now())
    return policy


@blp.put("/compensation-policies/<id:policy_id>")
@require_role("admin")
@blp.arguments(PolicySchema)
@blp.response(200, PolicySchema)
def update_policy(data, policy_id):
    """Replace a compensation policy (admins); what is left out takes its default."""
    policy = services.get_policy(policy_id)
    with transaction():
        services.save_policy(api_user(), policy, data, utc_now())
    return policy


@blp.get("/goodwill-limits")
@require_role("admin")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, GoodwillLimitPageSchema)
def list_goodwill_limits(args):
    """The most agents and supervisors may each grant on the spot (admins)."""
    return list_page([{"role": role, "max_value": services.goodwill_limit(role)} for role in GOODWILL_ROLES], args)


@blp.put("/goodwill-limits/<string(maxlength=20):role>")
@require_role("admin")
@blp.arguments(GoodwillLimitSchema)
@blp.response(200, GoodwillLimitSchema)
def set_goodwill_limit(data, role):
    """Set the most one role (`agent` or `supervisor`) may grant on the spot (admins)."""
    if role not in GOODWILL_ROLES:
        abort(404)
    with transaction():
        services.set_goodwill_limit(api_user(), role, data["max_value"], utc_now())
    return {"role": role, "max_value": services.goodwill_limit(role)}
