"""/api/v1/compensations and /api/v1/calendars: review, decide, issue; business calendars."""
from __future__ import annotations

from crm.api import api_blueprint, api_user, require_role
from crm.api.customers import page_body
from crm.api.schemas import (
    ApproveSchema,
    CalendarSchema,
    CalendarUpdateSchema,
    CompensationQuerySchema,
    CompensationSchema,
    GoodwillSchema,
    RejectSchema,
    page_schema,
)
from crm.calendars import services as calendars
from crm.compensations import services
from crm.extensions import db
from crm.moments.services import get_moment
from crm.types import utc_now

blp = api_blueprint("api_compensations", __name__, url_prefix="/api/v1",
                    description="Compensations for broken promises; business calendars")
CompensationPageSchema = page_schema(CompensationSchema, "CompensationPage")


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
@blp.response(200, CalendarSchema(many=True))
def list_calendars():
    """Business calendars: opening hours, time zone, public holidays and closures."""
    return calendars.list_calendars()


@blp.post("/calendars")
@require_role("admin")
@blp.arguments(CalendarSchema)
@blp.response(201, CalendarSchema)
def create_calendar(data):
    calendar = calendars.save_calendar(api_user(), None, data, utc_now())
    db.session.commit()
    return calendar


@blp.patch("/calendars/<id:calendar_id>")
@require_role("admin")
@blp.arguments(CalendarUpdateSchema)
@blp.response(200, CalendarSchema)
def update_calendar(data, calendar_id):
    calendar = calendars.save_calendar(api_user(), calendars.get_calendar(calendar_id), data, utc_now())
    db.session.commit()
    return calendar
