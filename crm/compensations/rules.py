"""Compensation rules: which policy applies and what it grants. Pure: no Flask, no database."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class PolicyTerms:
    id: int
    moment_type_id: int | None
    tier: str | None
    kind: str
    value: Decimal
    cost: Decimal | None
    requires_approval: bool
    escalate_after: int | None
    escalated_value: Decimal | None
    cap_value: Decimal | None


@dataclass(frozen=True)
class Proposal:
    kind: str
    value: Decimal
    cost: Decimal
    escalated: bool
    over_cap: bool
    issue_now: bool  # no person needs to look at it


def choose_policy(policies: list[PolicyTerms], moment_type_id: int, tier: str) -> PolicyTerms | None:
    """The most specific active policy: type and tier, then type, then tier, then any."""
    for wanted in ((moment_type_id, tier), (moment_type_id, None), (None, tier), (None, None)):
        for policy in policies:
            if (policy.moment_type_id, policy.tier) == wanted:
                return policy
    return None


def propose(policy: PolicyTerms, *, recent_breaches: int, granted_in_period: Decimal) -> Proposal:
    """What one breach earns, given the customer's other breaches in the escalation window
    (not counting this one) and the value already granted in the cap period."""
    escalated = bool(policy.escalate_after and policy.escalated_value is not None
                     and recent_breaches + 1 >= policy.escalate_after)
    value = policy.escalated_value if escalated else policy.value
    cost = value if policy.cost is None else (policy.cost * value / policy.value if policy.value else policy.cost)
    over_cap = policy.cap_value is not None and granted_in_period + value > policy.cap_value
    return Proposal(kind=policy.kind, value=value, cost=cost.quantize(Decimal("0.01")), escalated=escalated,
                    over_cap=over_cap, issue_now=not policy.requires_approval and not over_cap)
