"""Fixtures for follow-up tests: templates, a consenting customer and a real SMTP server."""
from __future__ import annotations

import pytest

from crm.auth.models import User
from crm.extensions import db
from tests.conftest import NOW
from tests.smtp_sink import SmtpSink

SURVEY_TEMPLATE = {
    "code": "survey", "name": "Satisfaction survey", "kind": "marketing", "survey": "nps",
    "subject_es": "{{ first_name }}, ¿cómo lo hicimos?",
    "body_es": "Hola {{ first_name }}:\n\nCuéntanos: {{ survey_url }}\n\n{{ agent_name }}",
    "subject_en": "{{ first_name }}, how did we do?",
    "body_en": "Hello {{ first_name }},\n\nTell us: {{ survey_url }}\n\n{{ agent_name }}",
}
PLAIN_TEMPLATE = {
    "code": "hello", "name": "Hello", "kind": "transactional",
    "subject_es": "Hola {{ customer_name }}", "body_es": "Gracias por venir, {{ first_name }}.",
    "subject_en": "Hello {{ customer_name }}", "body_en": "Thanks for coming, {{ first_name }}.",
}


@pytest.fixture
def smtp(app, monkeypatch):
    sink = SmtpSink().start()
    monkeypatch.setitem(app.config, "CRM_SMTP_URL", sink.url)
    yield sink
    sink.stop()


@pytest.fixture
def templates(app, admin):
    from crm.followups.services import save_template

    with app.app_context():
        actor = db.session.get(User, admin.id)
        ids = {spec["code"]: save_template(actor, spec, NOW).id for spec in (SURVEY_TEMPLATE, PLAIN_TEMPLATE)}
        db.session.commit()
        return ids


@pytest.fixture
def fan(app, agent):
    """A customer who agreed to marketing email."""
    from crm.customers.services import create_customer

    with app.app_context():
        customer = create_customer(db.session.get(User, agent.id), {
            "name": "Íñigo Fernández", "email": "inigo@example.es", "marketing_consent": True, "stage": "active",
        }, NOW)
        db.session.commit()
        return customer.id
