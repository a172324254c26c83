"""/api/v1/webhooks: endpoints, their deliveries and what receivers answered (admins)."""
from __future__ import annotations

import json

from marshmallow import EXCLUDE, Schema, fields

from crm.api import api_blueprint, api_user, require_role, transaction
from crm.api.paging import list_page, page_body
from crm.api.schemas import PageQuerySchema, page_schema
from crm.types import utc_now
from crm.webhooks import services
from crm.webhooks.models import DELIVERY_STATUSES
from crm.webhooks.rules import EVENT_TYPES

blp = api_blueprint("api_webhooks", __name__, url_prefix="/api/v1",
                    description="Webhooks: signed deliveries of events to your endpoints (admins)")


class EndpointSchema(Schema):
    id = fields.Integer(dump_only=True)
    url = fields.String(required=True, metadata={"description": "https:// (http:// only for a private network)"})
    description = fields.String(metadata={"description": "Up to 200 characters"})
    events = fields.List(fields.String(), required=True,
                         metadata={"description": "Any of: " + ", ".join(EVENT_TYPES)})
    active = fields.Boolean(metadata={"description": "Deliveries wait while an endpoint is inactive"})
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)
    secret_rotated_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class EndpointUpdateSchema(Schema):
    url = fields.String()
    description = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()


class EndpointWithSecretSchema(EndpointSchema):
    secret = fields.String(dump_only=True, metadata={
        "description": "The signing secret, returned only by creation and rotation: keep it now"})


class SecretSchema(Schema):
    secret = fields.String(required=True)


class DeliveryQuerySchema(PageQuerySchema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(metadata={"description": "One of: " + ", ".join(DELIVERY_STATUSES)})


class DeliverySchema(Schema):
    id = fields.Integer()
    endpoint_id = fields.Integer()
    event_id = fields.Function(lambda d: d.event.uid, metadata={"description": "Also sent as Fideliza-Event-Id"})
    event_type = fields.Function(lambda d: d.event.type)
    status = fields.String(metadata={"description": "One of: " + ", ".join(DELIVERY_STATUSES)})
    attempts = fields.Integer()
    due_at = fields.AwareDateTime()
    delivered_at = fields.AwareDateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()


class AttemptSchema(Schema):
    at = fields.AwareDateTime()
    duration_ms = fields.Integer()
    status_code = fields.Integer(allow_none=True)
    response_body = fields.String(metadata={"description": "The first 2,000 bytes the receiver answered"})
    error = fields.String(allow_none=True)


class DeliveryDetailSchema(DeliverySchema):
    body = fields.Function(lambda d: json.loads(d.event.body), metadata={"description": "What was posted"})
    attempt_log = fields.Function(lambda d: AttemptSchema(many=True).dump(services.attempts_of(d)),
                                  metadata={"description": "Every attempt, newest first"})


class RetriedSchema(Schema):
    retried = fields.Integer(required=True)


EndpointPageSchema = page_schema(EndpointSchema, "WebhookEndpointPage")
DeliveryPageSchema = page_schema(DeliverySchema, "WebhookDeliveryPage")


@blp.get("/webhooks")
@require_role("admin")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, EndpointPageSchema)
def list_endpoints(args):
    """Every webhook endpoint, oldest first (admins). Secrets are never listed."""
    return list_page(services.list_endpoints(), args)


@blp.post("/webhooks")
@require_role("admin")
@blp.arguments(EndpointSchema)
@blp.response(201, EndpointWithSecretSchema)
def create_endpoint(data):
    """Register an endpoint (admins). The answer holds its signing secret, this once."""
    with transaction():
        endpoint, _secret = services.create_endpoint(api_user(), data, utc_now())
    return endpoint  # its secret is dumped this once


@blp.get("/webhooks/<id:endpoint_id>")
@require_role("admin")
@blp.response(200, EndpointSchema)
def get_endpoint(endpoint_id):
    """One webhook endpoint, without its secret (admins)."""
    return services.get_endpoint(endpoint_id)


@blp.patch("/webhooks/<id:endpoint_id>")
@require_role("admin")
@blp.arguments(EndpointUpdateSchema)
@blp.response(200, EndpointSchema)
def update_endpoint(data, endpoint_id):
    """Change an endpoint's address, description, events or whether it is active (admins)."""
    endpoint = services.get_endpoint(endpoint_id)
    with transaction():
        services.update_endpoint(api_user(), endpoint, data, utc_now())
    return endpoint


@blp.delete("/webhooks/<id:endpoint_id>")
@require_role("admin")
@blp.response(204)
def delete_endpoint(endpoint_id):
    """Delete an endpoint with its deliveries (admins)."""
    endpoint = services.get_endpoint(endpoint_id)
    with transaction():
        services.delete_endpoint(api_user(), endpoint, utc_now())


@blp.post("/webhooks/<id:endpoint_id>/rotate-secret")
@require_role("admin")
@blp.response(200, SecretSchema)
def rotate_secret(endpoint_id):
    """A new signing secret for every delivery from now on (admins); returned this once."""
    endpoint = services.get_endpoint(endpoint_id)
    with transaction():
        secret = services.rotate_secret(api_user(), endpoint, utc_now())
    return {"secret": secret}


@blp.post("/webhooks/<id:endpoint_id>/test")
@require_role("admin")
@blp.response(202, DeliverySchema)
def send_test(endpoint_id):
    """Queue a `webhook.ping` event for this endpoint alone (admins)."""
    endpoint = services.get_endpoint(endpoint_id)
    with transaction():
        delivery = services.send_test(api_user(), endpoint, utc_now())
    return delivery


@blp.post("/webhooks/<id:endpoint_id>/retry-failed")
@require_role("admin")
@blp.response(200, RetriedSchema)
def retry_failed(endpoint_id):
    """Put every failed delivery of this endpoint back in line (admins)."""
    endpoint = services.get_endpoint(endpoint_id)
    with transaction():
        count = services.retry_failed(api_user(), endpoint, utc_now())
    return {"retried": count}


@blp.get("/webhooks/<id:endpoint_id>/deliveries")
@require_role("admin")
@blp.arguments(DeliveryQuerySchema, location="query")
@blp.response(200, DeliveryPageSchema)
def list_deliveries(args, endpoint_id):
    """This endpoint's deliveries, newest first (admins)."""
    services.get_endpoint(endpoint_id)
    return page_body(services.list_deliveries(endpoint_id=endpoint_id, status=args.get("status"),
                                              page=args["page"], per_page=args["per_page"]))


@blp.get("/webhook-deliveries/<id:delivery_id>")
@require_role("admin")
@blp.response(200, DeliveryDetailSchema)
def get_delivery(delivery_id):
    """One delivery with its body and every attempt's answer (admins)."""
    return services.get_delivery(delivery_id)


@blp.post("/webhook-deliveries/<id:delivery_id>/retry")
@require_role("admin")
@blp.response(200, DeliverySchema)
def retry_delivery(delivery_id):
    """Send a failed delivery again, now (admins)."""
    delivery = services.get_delivery(delivery_id)
    with transaction():
        services.retry_delivery(api_user(), delivery, utc_now())
    return delivery
