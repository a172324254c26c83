"""What people read for each stored code, in their language."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

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
    "lane": {
        "physical_evidence": _l("Physical evidence"), "customer_action": _l("Customer actions"),
        "frontstage_action": _l("Frontstage actions"), "backstage_action": _l("Backstage actions"),
        "support_process": _l("Support processes"),
    },
}


def label(group: str, value) -> str:
    if value is None:
        return ""
    return str(LABELS[group].get(value, value))


def choices(group: str, values) -> list[SelectChoice]:
    return [SelectChoice(v, label(group, v)) for v in values]


def init_app(app) -> None:
    app.jinja_env.globals.update(label=label, emotion_label=lambda v: label("emotion", v))
