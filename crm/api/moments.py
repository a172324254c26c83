"""/api/v1: the moment-type catalog, logging moments, commitments."""
from __future__ import annotations

from flask import g

from crm.api import api_blueprint, api_user, require_role, transaction
from crm.api.paging import list_page, page_body
from crm.api.schemas import PageQuerySchema, page_schema
from crm.api.schemas.catalog import MomentTypeSchema, MomentTypeUpdateSchema
from crm.api.schemas.moments import (
    CommitmentQuerySchema,
    CommitmentSchema,
    EmotionSchema,
    MomentCreateSchema,
    MomentSchema,
)
from crm.compensations.services import compensation_ids
from crm.extensions import db
from crm.moments import catalog, services
from crm.types import utc_now

blp = api_blueprint("api_moments", __name__, url_prefix="/api/v1",
                description="Moments of truth and their commitments")
CommitmentPageSchema = page_schema(CommitmentSchema, "CommitmentPage")
MomentTypePageSchema = page_schema(MomentTypeSchema, "MomentTypePage")


@blp.get("/moment-types")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, MomentTypePageSchema)
def list_moment_types(args):
    """The moment-of-truth catalog, with service levels per customer tier, in journey order."""
    return list_page(catalog.list_moment_types(include_inactive=True), args)


@blp.get("/moment-types/<id:type_id>")
@blp.response(200, MomentTypeSchema)
def get_moment_type(type_id):
    """One moment type of the catalog."""
    return catalog.get_moment_type(type_id)


@blp.patch("/moment-types/<id:type_id>")
@require_role("admin")
@blp.arguments(MomentTypeUpdateSchema)
@blp.response(200, MomentTypeSchema)
def update_moment_type(data, type_id):
    """Change a moment type (admins); only the fields sent change. `service_levels`, when sent,
    replaces every tier's levels. Refused with 422 (bad values), 409 (a code another type has)."""
    moment_type = catalog.get_moment_type(type_id)
    with transaction():
        catalog.save_moment_type(api_user(), moment_type, data, utc_now())
    return moment_type


@blp.post("/moment-types")
@require_role("admin")
@blp.arguments(MomentTypeSchema)
@blp.response(201, MomentTypeSchema)
def create_moment_type(data):
    """Add a moment type to the catalog (admins only)."""
    moment_type = catalog.save_moment_type(api_user(), None, data, utc_now())
    db.session.commit()
    return moment_type


@blp.post("/moments")
@blp.arguments(MomentCreateSchema)
@blp.response(201, MomentSchema)
def log_moment(data):
    """Log a contact; answers the moment with the commitments it created."""
    moment = services.log_moment(api_user(), data, utc_now())
    db.session.commit()
    return moment


@blp.post("/moments/<id:moment_id>/emotion")
@blp.arguments(EmotionSchema)
@blp.response(200, MomentSchema)
def set_emotion(data, moment_id):
    """Set (or clear, with null) how the customer felt during a logged contact: −2 to +2."""
    moment = services.get_moment(moment_id)
    with transaction():
        services.set_emotion(api_user(), moment, data["emotion"], utc_now())
    return moment


@blp.get("/commitments")
@blp.arguments(CommitmentQuerySchema, location="query")
@blp.response(200, CommitmentPageSchema)
def list_commitments(args):
    """Commitments, open ones first by deadline; filter by status, customer, owner."""
    page = services.list_commitments(**args)
    _attach_compensations(page.items)
    return page_body(page)


def _attach_compensations(commitments) -> None:
    """The commitments' compensation ids, read in one query, for CommitmentSchema."""
    g.compensation_ids = compensation_ids(commitments)


def _commitment_action(action, commitment_id):
    commitment = action(api_user(), services.get_commitment(commitment_id), utc_now())
    db.session.commit()
    _attach_compensations([commitment])
    return commitment


@blp.post("/commitments/<id:commitment_id>/pause")
@blp.response(200, CommitmentSchema)
def pause(commitment_id):
    """Stop the clock while waiting on the customer; the business time left is kept."""
    return _commitment_action(services.pause_commitment, commitment_id)


@blp.post("/commitments/<id:commitment_id>/resume")
@blp.response(200, CommitmentSchema)
def resume(commitment_id):
    """Start the clock again; the deadline moves by the business time spent paused."""
    return _commitment_action(services.resume_commitment, commitment_id)


@blp.post("/commitments/<id:commitment_id>/met")
@blp.response(200, CommitmentSchema)
def mark_met(commitment_id):
    """Mark a commitment as met now."""
    return _commitment_action(services.mark_met, commitment_id)
