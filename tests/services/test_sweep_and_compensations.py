"""The breach sweep and what it sets in motion: compensations, decisions, notices."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.auth.models import User
from crm.compensations import services as comp
from crm.compensations.models import Compensation
from crm.customers.models import Customer
from crm.domain import Conflict, Forbidden, ValidationFailed
from crm.extensions import db
from crm.followups.models import OutboxMessage
from crm.moments import services
from crm.moments.models import Commitment
from crm.moments.sweep import sweep_commitments


@pytest.fixture
def people(ctx, agent, supervisor, admin):
    return {role: db.session.get(User, u.id) for role, u in
            (("agent", agent), ("supervisor", supervisor), ("admin", admin))}


@pytest.fixture
def policy(people, customer, moment_type, now):
    return comp.save_policy(people["admin"], None, {
        "moment_type_id": moment_type, "kind": "discount", "value": "10", "cost": "6",
        "requires_approval": True, "escalate_after": 3, "escalated_value": "25", "escalation_window_days": 90,
        "cap_value": "40", "cap_period_days": 365}, now)


def complaint(people, customer, when):
    return services.log_moment(people["agent"], {"customer_id": customer, "moment_type": "complaint",
                                                 "occurred_at": when}, when)


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


class TestSweep:
    def test_breaks_what_is_due_flags_what_is_close_and_proposes(self, people, customer, policy, now):
        moment = complaint(people, customer, now)  # due in 4 h and 48 h (clock time)
        first = next(c for c in moment.commitments if c.kind == "first_response")
        at_risk = sweep_commitments(now + timedelta(hours=3, minutes=30))
        assert (at_risk.breached, at_risk.at_risk) == (0, 1)
        db.session.refresh(first)
        assert first.warned_at == now + timedelta(hours=3, minutes=30)
        result = sweep_commitments(now + timedelta(hours=5))
        assert (result.breached, result.proposed, result.issued) == (1, 1, 0)
        db.session.refresh(first)
        assert first.status == "breached" and first.breached_at == first.due_at  # the instant it broke
        compensation = db.session.scalar(select(Compensation))
        assert (compensation.commitment_id, compensation.status, compensation.value, compensation.cost) == (
            first.id, "proposed", Decimal("10.00"), Decimal("6.00"))

    def test_running_twice_changes_nothing_the_second_time(self, people, customer, policy, now):
        complaint(people, customer, now)
        first = sweep_commitments(now + timedelta(days=3))
        second = sweep_commitments(now + timedelta(days=3))
        assert (first.breached, first.proposed) == (2, 2)
        assert (second.breached, second.at_risk, second.proposed, second.issued) == (0, 0, 0, 0)
        assert count(Compensation) == 2

    def test_paused_and_met_commitments_never_break(self, people, customer, policy, now):
        moment = complaint(people, customer, now)
        first, resolution = sorted(moment.commitments, key=lambda c: c.kind)
        services.mark_met(people["agent"], first, now + timedelta(hours=1))
        services.pause_commitment(people["agent"], resolution, now + timedelta(hours=1))
        assert sweep_commitments(now + timedelta(days=10)).breached == 0

    def test_no_policy_no_compensation(self, people, customer, moment_type, now):
        complaint(people, customer, now)
        assert sweep_commitments(now + timedelta(days=3)).proposed == 0
        assert count(Commitment, Commitment.status == "breached") == 2

    def test_policy_without_approval_issues_and_writes_the_notice(self, notice_rule, people, customer,
                                                                   moment_type, now):
        comp.save_policy(people["admin"], None, {"kind": "apology", "value": "0", "requires_approval": False}, now)
        complaint(people, customer, now)
        result = sweep_commitments(now + timedelta(days=3))
        assert (result.proposed, result.issued) == (0, 2)
        assert count(OutboxMessage, OutboxMessage.compensation_id.is_not(None), OutboxMessage.rule_id == notice_rule,
                     OutboxMessage.status == "pending") == 2

    def test_escalation_and_cap(self, people, customer, policy, now):
        for day in range(4):
            complaint(people, customer, now + timedelta(days=day * 3))
        # 8 breaches in one sweep: the third onwards is escalated (25 €).
        sweep_commitments(now + timedelta(days=20))
        values = [c.value for c in db.session.scalars(select(Compensation).order_by(Compensation.commitment_id))]
        assert values[:2] == [Decimal("10.00")] * 2 and set(values[2:]) == {Decimal("25.00")}
        assert all(c.escalated for c in db.session.scalars(select(Compensation))
                   if c.value == Decimal("25.00"))

    def test_over_the_cap_never_issues_automatically(self, people, customer, moment_type, now):
        comp.save_policy(people["admin"], None, {"moment_type_id": moment_type, "kind": "credit", "value": "30",
                                                 "requires_approval": False, "cap_value": "50"}, now)
        complaint(people, customer, now)
        sweep_commitments(now + timedelta(days=3))
        statuses = sorted((c.status, c.over_cap) for c in db.session.scalars(select(Compensation)))
        assert statuses == [("issued", False), ("proposed", True)]


class TestDecisions:
    @pytest.fixture
    def proposed(self, people, customer, policy, now):
        complaint(people, customer, now)
        sweep_commitments(now + timedelta(hours=5))
        return db.session.scalar(select(Compensation))

    def test_approve_with_adjusted_value_then_issue(self, notice_rule, people, proposed, now):
        comp.approve(people["supervisor"], proposed, now, value="5", note="Cliente de siempre")
        assert (proposed.status, proposed.value, proposed.cost, proposed.decision_note) == (
            "approved", Decimal("5.00"), Decimal("3.00"), "Cliente de siempre")
        comp.issue(people["supervisor"], proposed, now)
        assert proposed.status == "issued"
        notice = db.session.scalar(select(OutboxMessage))
        assert notice.idempotency_key == f"rule:{notice_rule}:compensation:{proposed.id}"
        assert notice.status == "pending" and notice.subject == "Te debemos una: Descuento: 5,00\xa0€"
        customer = db.session.get(Customer, proposed.customer_id)
        assert comp.compensation_cost(customer) == Decimal("3.00")

    def test_agents_cannot_decide(self, people, proposed, now):
        for call in (lambda: comp.approve(people["agent"], proposed, now),
                     lambda: comp.reject(people["agent"], proposed, "no", now)):
            with pytest.raises(Forbidden):
                call()
        assert proposed.status == "proposed"

    def test_illegal_transitions_are_conflicts(self, people, proposed, now):
        with pytest.raises(Conflict):
            comp.issue(people["supervisor"], proposed, now)  # not approved yet
        comp.reject(people["supervisor"], proposed, "Ya compensado por teléfono", now)
        with pytest.raises(Conflict):
            comp.approve(people["supervisor"], proposed, now)
        with pytest.raises(Conflict):
            comp.reject(people["supervisor"], proposed, "otra vez", now)
        assert proposed.status == "rejected" and proposed.decision_note == "Ya compensado por teléfono"

    def test_bad_values(self, people, proposed, now):
        for value in ("-1", "abc", "9999999999"):
            with pytest.raises(ValidationFailed):
                comp.approve(people["supervisor"], proposed, now, value=value)
        with pytest.raises(ValidationFailed):
            comp.reject(people["supervisor"], proposed, "  ", now)
        assert proposed.status == "proposed" and proposed.value == Decimal("10.00")

    def test_totals_and_filters(self, people, proposed, now, moment_type):
        totals = comp.totals()
        assert totals["proposed"] == {"count": 1, "value": Decimal("10.00"), "cost": Decimal("6.00")}
        assert comp.list_compensations(status="proposed", moment_type_id=moment_type).total == 1
        assert comp.list_compensations(tier="premium").total == 0
        with pytest.raises(ValidationFailed):
            comp.list_compensations(status="lost")


class TestGoodwill:
    def test_within_the_role_limit_it_is_issued_at_once(self, notice_rule, people, customer, moment_type, now):
        comp.set_goodwill_limit(people["admin"], "agent", "15", now)
        moment = complaint(people, customer, now)
        granted = comp.grant_goodwill(people["agent"], moment, {"kind": "gift", "value": "12",
                                                                "reason": "Casco de regalo"}, now)
        assert granted.status == "issued" and count(OutboxMessage) == 1
        with pytest.raises(Forbidden):
            comp.grant_goodwill(people["agent"], moment, {"kind": "gift", "value": "20", "reason": "x"}, now)
        assert count(Compensation) == 1

    def test_without_a_limit_nothing_can_be_granted(self, people, customer, moment_type, now):
        moment = complaint(people, customer, now)
        with pytest.raises(Forbidden):
            comp.grant_goodwill(people["agent"], moment, {"kind": "gift", "value": "1", "reason": "x"}, now)
