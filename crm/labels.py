"""What people read for each stored code, in their language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

from crm.i18n import request_locale

LABELS = {
    "stage": {
        "prospect": _l("Prospect"), "new": _l("New"), "active": _l("Active"), "loyal": _l("Loyal"),
        "promoter": _l("Promoter"), "at_risk": _l("At risk"), "churned": _l("Churned"),
    },
    "loyalty": {
        "occasional": _l("Occasional buyer"), "regular": _l("Regular"), "exclusive": _l("Exclusive"),
        "promoter": _l("Promoter"),
    },
    "tier": {"basic": _l("Basic"), "standard": _l("Standard"), "premium": _l("Premium")},
    "phase": {
        "discover": _l("Discover"), "evaluate": _l("Evaluate"), "interact": _l("Interact"),
        "retain": _l("Retain"), "refer": _l("Refer"),
    },
    "channel": {
        "in_person": _l("In person"), "phone": _l("Phone"), "email": _l("Email"), "web": _l("Web"),
        "app": _l("App"), "chat": _l("Chat"), "social": _l("Social media"), "postal": _l("Post"),
        "partner": _l("Through a partner"),
    },
    "outcome": {"pending": _l("Pending"), "resolved": _l("Resolved"), "escalated": _l("Escalated")},
    "status": {"open": _l("Open"), "paused": _l("Paused"), "met": _l("Met"), "breached": _l("Breached")},
    "kind": {"first_response": _l("First response"), "resolution": _l("Resolution")},
    "role": {"agent": _l("Agent"), "supervisor": _l("Supervisor"), "admin": _l("Admin")},
    "team_kind": {"internal": _l("Internal area"), "partner": _l("External partner")},
    "language": {"es": _l("Spanish"), "en": _l("English")},
    "emotion": {-2: _l("Very unhappy"), -1: _l("Unhappy"), 0: _l("Neutral"), 1: _l("Happy"),
                2: _l("Delighted")},
    "compensation_kind": {
        "discount": _l("Discount"), "credit": _l("Credit"), "gift": _l("Gift"), "free_service": _l("Free service"),
        "apology": _l("Apology"),
    },
    "compensation_status": {
        "proposed": _l("Proposed"), "approved": _l("Approved"), "issued": _l("Issued"), "rejected": _l("Rejected"),
    },
    # The lifecycle rules, as the stage history names the rule that moved a customer.
    "rule": {
        "first_purchase": _l("First purchase"),
        "regular_purchases": _l("Regular purchases"),
        "exclusive": _l("Buys only from us"),
        "promoter": _l("Promoter who recommends us"),
        "survey_detractor": _l("Detractor survey answer"),
        "repeated_breaches": _l("Repeated broken commitments"),
        "inactivity": _l("Inactivity"),
    },
    "webhook_status": {
        "pending": _l("Waiting"), "sending": _l("Sending"), "delivered": _l("Delivered"), "failed": _l("Failed"),
    },
    "lane": {
        "physical_evidence": _l("Physical evidence"), "customer_action": _l("Customer actions"),
        "frontstage_action": _l("Frontstage actions"), "backstage_action": _l("Backstage actions"),
        "support_process": _l("Support processes"),
    },
}


_translated: dict[tuple, str] = {}


def label(group: str, value) -> str:
    if value is None:
        return ""
    text = LABELS[group].get(value)
    if text is None:
        return str(value)
    # A customer page shows the same few labels a hundred times; gettext costs ~20 µs a call.
    key = (str(request_locale()), group, value)
    if key not in _translated:
        _translated[key] = str(text)
    return _translated[key]


FACES = {-2: "😡", -1: "🙁", 0: "😐", 1: "🙂", 2: "😍"}
_emotion_options: dict[str, list[tuple[int, str, str]]] = {}


def emotion_options() -> list[tuple[int, str, str]]:
    """(value, face, label) for each emotion, translated once per language."""
    locale = str(request_locale())
    if locale not in _emotion_options:
        _emotion_options[locale] = [(value, face, str(LABELS["emotion"][value])) for value, face in FACES.items()]
    return _emotion_options[locale]


def choices(group: str, values) -> list[SelectChoice]:
    return [SelectChoice(v, label(group, v)) for v in values]


def init_app(app) -> None:
    app.jinja_env.globals.update(label=label, emotion_label=lambda v: label("emotion", v),
                                 emotion_options=emotion_options, faces=FACES)
