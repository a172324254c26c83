"""Pure webhook rules: the events, the signature, endpoint addresses. No Flask, no SQLAlchemy.

A delivery is signed the way receivers of Stripe-style webhooks already check:
the header `Fideliza-Signature: t=<unix seconds>,v1=<hex>` where the hex is
HMAC-SHA256 over `"<t>.<raw body>"` with the endpoint's secret. The timestamp is
that of the attempt, so a receiver refuses replays older than a few minutes;
the body (and its event id, for deduplication) is the same on every attempt.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from crm.sla import N_

EVENT_TYPES = (
    "customer.created",
    "customer.stage_changed",
    "moment.logged",
    "commitment.breached",
    "compensation.issued",
    "survey.answered",
)
# Sent only by the "send a test event" button, to the one endpoint it is pressed for.
PING = "webhook.ping"

SIGNATURE_HEADER = "Fideliza-Signature"
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"
URL_MAX = 2000


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={int(timestamp)},{SIGNATURE_VERSION}={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: the header parses, its timestamp is recent and one of its
    v1 signatures matches (several appear while a secret is being rotated)."""
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdecimal():
            timestamp = int(value)
        elif name == SIGNATURE_VERSION and value:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def url_problem(url: str) -> str | None:
    """Why this address cannot receive webhooks (a gettext id), or None.

    http:// is allowed only for loopback and private addresses (a receiver on the same
    network); anything that crosses the internet must be https://.
    """
    if len(url) > URL_MAX:
        return N_("the address is too long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return N_("this is not a valid web address")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return N_("the address must start with https:// and name a host")
    if parts.username or parts.password:
        return N_("the address must not contain a user name or password")
    if port == 0:
        return N_("this is not a valid web address")
    if parts.scheme == "http" and not _local(parts.hostname):
        return N_("use https:// for receivers outside your own network")
    if parts.fragment:
        return N_("the address must not contain a #fragment")
    return None


def _local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost") or host.endswith(".local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local
