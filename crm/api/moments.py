"""/api/v1: the moment-type catalog, logging moments, commitments."""
from __future__ import annotations

from flask import g

from crm.api import api_blueprint, api_user, require_role
from crm.api.customers import page_body
from crm.api.schemas import (
    CommitmentQuerySchema,
    CommitmentSchema,
    MomentCreateSchema,
    MomentSchema,
    MomentTypeSchema,
    page_schema,
)
from crm.compensations.services import compensation_ids
from crm.extensions import db
from crm.moments import catalog, services
from crm.types import utc_now

blp = api_blueprint("api_moments", __name__, url_prefix="/api/v1",
                description="Moments of truth and their commitments")
CommitmentPageSchema = page_schema(CommitmentSchema, "CommitmentPage")


@blp.get("/moment-types")
@blp.response(200, MomentTypeSchema(many=True))
def list_moment_types():
    """The moment-of-truth catalog, with service levels per customer tier."""
    return catalog.list_moment_types(include_inactive=True)


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
