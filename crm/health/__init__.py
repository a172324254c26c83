"""Liveness, readiness and the scheduler's heartbeat: what load balancers and monitors ask."""
from crm.health.services import beat

__all__ = ["beat"]
