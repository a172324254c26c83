"""Customer services: create, edit, search, stage changes, timeline."""
from datetime import timedelta

import pytest

from crm.auth.models import User
from crm.customers import services
from crm.customers.models import Customer, StageChange
from crm.domain import NotFound, ValidationFailed
from crm.extensions import db
from crm.moments.services import log_moment, mark_met


@pytest.fixture
def actor(ctx, agent):
    return db.session.get(User, agent.id)


def make(actor, now, **data):
    data.setdefault("name", "Cliente")
    customer = services.create_customer(actor, data, now)
    db.session.flush()
    return customer


class TestCreate:
    def test_defaults_and_initial_history(self, actor, now):
        customer = make(actor, now, name="  Ana Ruiz ", email="ANA@Example.ES")
        assert (customer.stage, customer.loyalty, customer.tier, customer.language) == (
            "prospect", "occasional", "standard", "es")
        assert customer.email == "ana@example.es"
        assert customer.owner_id == actor.id
        history = services.stage_history(customer)
        assert [(h.from_stage, h.to_stage, h.user_id) for h in history] == [(None, "prospect", actor.id)]

    def test_every_problem_is_reported_and_nothing_is_written(self, actor, now):
        with pytest.raises(ValidationFailed) as err:
            services.create_customer(actor, {"name": "", "email": "not-an-email", "stage": "vip",
                                             "tier": "gold", "phone": "12", "owner_id": 999999}, now)
        assert set(err.value.fields) == {"name", "email", "stage", "tier", "phone", "owner_id"}
        db.session.rollback()
        assert db.session.query(Customer).count() == 0

    def test_nul_bytes_and_overlong_values_are_refused(self, actor, now):
        with pytest.raises(ValidationFailed) as err:
            services.create_customer(actor, {"name": "Ana\x00", "company": "x" * 201}, now)
        assert set(err.value.fields) == {"name", "company"}


class TestUpdate:
    def test_changes_reindex_search(self, actor, now):
        customer = make(actor, now, name="Pedro Gil")
        services.update_customer(actor, customer, {"name": "Pedro Gómez", "phone": "600 111 222"}, now)
        assert [c.id for c in services.search_customers("gomez").items] == [customer.id]
        assert services.search_customers("gil").total == 0
        assert [c.id for c in services.search_customers("600111").items] == [customer.id]

    def test_stage_cannot_be_edited_directly(self, actor, now):
        customer = make(actor, now)
        with pytest.raises(ValidationFailed) as err:
            services.update_customer(actor, customer, {"stage": "loyal"}, now)
        assert "stage" in err.value.fields
        assert customer.stage == "prospect"


class TestStageChange:
    def test_change_is_kept_in_history_with_who_and_why(self, actor, now):
        customer = make(actor, now)
        later = now + timedelta(hours=1)
        services.change_stage(actor, customer, "new", "Primera compra", later)
        services.change_stage(None, customer, "at_risk", "Dos reclamaciones", later + timedelta(days=1),
                              rule="repeated_breaches")
        history = services.stage_history(customer)
        assert [(h.from_stage, h.to_stage) for h in history] == [
            ("new", "at_risk"), ("prospect", "new"), (None, "prospect")]
        assert history[0].rule == "repeated_breaches" and history[0].user_id is None
        assert history[1].reason == "Primera compra" and history[1].user_id == actor.id
        assert history[1].at == later
        assert customer.stage == "at_risk"

    def test_without_reason_nothing_changes(self, actor, now):
        customer = make(actor, now)
        with pytest.raises(ValidationFailed) as err:
            services.change_stage(actor, customer, "new", " ", now)
        assert list(err.value.fields) == ["reason"]
        assert customer.stage == "prospect"
        assert db.session.query(StageChange).count() == 1


class TestSearch:
    @pytest.fixture
    def people(self, actor, now):
        return {
            "maria": make(actor, now, name="María García Núñez", email="mgarcia@example.es",
                          phone="+34 612 345 678", stage="active", segment="Familia"),
            "mario": make(actor, now, name="Mario Garcés", company="Ciclos Garcés SL", stage="loyal"),
            "ana": make(actor, now, name="Ana Torres", email="ana@torres.es", phone="963 000 111",
                        segment="Familia"),
        }

    def ids(self, page):
        return [c.id for c in page.items]

    def test_prefix_of_any_word_accent_insensitive(self, people):
        assert self.ids(services.search_customers("garc")) == [people["maria"].id, people["mario"].id]
        assert self.ids(services.search_customers("NUÑ")) == [people["maria"].id]
        assert self.ids(services.search_customers("mar garc")) == [people["maria"].id, people["mario"].id]
        assert self.ids(services.search_customers("maria garcia")) == [people["maria"].id]

    def test_company_email_and_phone(self, people):
        assert self.ids(services.search_customers("ciclos")) == [people["mario"].id]
        assert self.ids(services.search_customers("ana@tor")) == [people["ana"].id]
        assert self.ids(services.search_customers("612 345")) == [people["maria"].id]
        assert self.ids(services.search_customers("+34612345678")) == [people["maria"].id]

    def test_filters_combine_with_the_query(self, people, agent):
        assert self.ids(services.search_customers("garc", stage="loyal")) == [people["mario"].id]
        assert self.ids(services.search_customers("", segment="Familia")) == [
            people["ana"].id, people["maria"].id]
        assert services.search_customers("", owner_id=agent.id).total == 3
        assert services.search_customers("zzz").total == 0

    def test_paging(self, actor, now):
        for i in range(30):
            make(actor, now, name=f"Cliente {i:02d}")
        first = services.search_customers("cliente", per_page=25)
        second = services.search_customers("cliente", page=2, per_page=25)
        assert (first.total, len(first.items), len(second.items), first.pages) == (30, 25, 5, 2)
        assert not set(self.ids(first)) & set(self.ids(second))

    def test_hostile_queries_are_just_text(self, people):
        for q in ["'; DROP TABLE customers; --", "%", "_", "\\", "a" * 5000, "🚲", "\u0000"]:
            services.search_customers(q)
        assert db.session.query(Customer).count() == 3


class TestTimeline:
    def test_newest_first_across_kinds_and_paginated(self, actor, now, moment_type):
        customer = make(actor, now)
        moment = log_moment(actor, {"customer_id": customer.id, "moment_type": "complaint",
                                    "occurred_at": now + timedelta(minutes=5)}, now + timedelta(minutes=5))
        services.change_stage(actor, customer, "at_risk", "Reclamación", now + timedelta(minutes=10))
        first_response = next(c for c in moment.commitments if c.kind == "first_response")
        mark_met(actor, first_response, now + timedelta(minutes=20))
        page = services.timeline(customer)
        assert [(kind, item.id) for kind, item in page.items] == [
            ("met", first_response.id), ("stage", page.items[1][1].id), ("moment", moment.id),
            ("stage", page.items[3][1].id)]
        assert page.items[3][1].to_stage == "prospect"
        first_three = services.timeline(customer, page=1, per_page=3)
        assert first_three.has_next and not first_three.has_prev and len(first_three.items) == 3
        small = services.timeline(customer, page=2, per_page=3)
        assert [k for k, _ in small.items] == ["stage"] and small.has_prev and not small.has_next

    def test_missing_customer(self, ctx):
        with pytest.raises(NotFound):
            services.get_customer(424242)
