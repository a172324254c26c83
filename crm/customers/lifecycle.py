"""Lifecycle stages, loyalty levels and tiers: pure rules, no Flask, no database."""
from __future__ import annotations

STAGES = ("prospect", "new", "active", "loyal", "promoter", "at_risk", "churned")
LOYALTY_LEVELS = ("occasional", "regular", "exclusive", "promoter")
TIERS = ("basic", "standard", "premium")
DEFAULT_TIER = "standard"
CUSTOMER_LANGUAGES = ("es", "en")
REASON_MAX = 500


def N_(message: str) -> str:
    """Marks a message for translation where it is shown."""
    return message


class TransitionError(ValueError):
    """A stage change the rules refuse; `message` is a gettext id, `field` what it is about."""

    def __init__(self, message: str, field: str, **params):
        super().__init__(message % params if params else message)
        self.message, self.field, self.params = message, field, params


def check_stage_change(current: str, target: str, reason: str | None) -> str:
    """Validate a manual stage change and return the cleaned reason.

    People may move a customer to any stage (a business knows things software
    does not), but never to the stage it already has and never without saying why.
    """
    if target not in STAGES:
        raise TransitionError(N_("unknown stage"), "stage")
    if target == current:
        raise TransitionError(N_("the customer is already in that stage"), "stage")
    reason = (reason or "").strip()
    if not reason:
        raise TransitionError(N_("a stage change needs a reason"), "reason")
    if len(reason) > REASON_MAX:
        raise TransitionError(N_("must be at most %(max)d characters"), "reason", max=REASON_MAX)
    return reason
