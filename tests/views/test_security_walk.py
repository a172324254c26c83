"""Walks the URL map: every state-changing page needs CSRF, every route has its roles.

New routes must be added to ROUTE_ROLES below, or these tests fail: nothing slips
in without someone deciding who may reach it.
"""
import pytest

from tests.conftest import csrf_from

# Minimum role for each page endpoint; None means public.
ROUTE_ROLES = {
    "auth.login": None,
    "auth.logout": None,
    "auth.set_language": None,
    "auth.account": "agent",
    "auth.reauthenticate": "agent",
    "auth.revoke_token": "agent",
    "moments.home": "agent",
    "moments.queue": "supervisor",
    "moments.log": "agent",
    "moments.log_details": "agent",
    "moments.set_emotion": "agent",
    "moments.mark_met": "agent",
    "moments.pause": "agent",
    "moments.resume": "agent",
    "compensations.review": "supervisor",
    "compensations.approve": "supervisor",
    "compensations.reject": "supervisor",
    "compensations.issue": "supervisor",
    "compensations.goodwill": "agent",
    "customers.index": "agent",
    "customers.create": "agent",
    "customers.detail": "agent",
    "customers.edit": "agent",
    "customers.change_stage": "agent",
    "customers.purchases": "agent",
    "customers.record_purchase": "agent",
    "admin.index": "admin",
    "admin.users": "admin",
    "admin.new_user": "admin",
    "admin.edit_user": "admin",
    "admin.teams": "admin",
    "admin.edit_team": "admin",
    "admin.moment_types": "admin",
    "admin.edit_moment_type": "admin",
    "admin.calendars": "admin",
    "admin.edit_calendar": "admin",
    "admin.compensation_policies": "admin",
    "admin.edit_policy": "admin",
    "followups.templates": "admin",
    "followups.edit_template": "admin",
    "followups.rules": "admin",
    "followups.edit_rule": "admin",
    "followups.outbox": "admin",
    "followups.message": "admin",
    "followups.retry": "admin",
    "followups.cancel_admin": "admin",
    "followups.mail": "admin",
    "followups.mail_file": "admin",
    "followups.customer_panel": "agent",
    "followups.schedule": "agent",
    "followups.cancel": "agent",
    "followups.survey": None,
    "charter.page": None,
    "charter.pdf": None,
    "followups.unsubscribe": None,
    "insights.metrics": "supervisor",
    "insights.dashboard": "supervisor",
    "insights.weekly_report": "supervisor",
    "insights.profitability": "supervisor",
    "insights.decide_customer": "supervisor",
    "insights.tier_rule": "admin",
    "insights.journey": "supervisor",
    "insights.blueprints": "supervisor",
    "insights.blueprint": "supervisor",
    "insights.impact": "supervisor",
    "lifecycle.rules": "admin",
    "lifecycle.save_rules": "admin",
    "lifecycle.run_now": "admin",
    "imports.index": "supervisor",
    "imports.show": "supervisor",
    "imports.check": "supervisor",
    "imports.run": "supervisor",
    "imports.errors": "supervisor",
    "exports.index": "supervisor",
    "exports.download": "supervisor",
    "feeds.index": "agent",
    "feeds.issue": "agent",
    "feeds.revoke": "agent",
    # Public: the secret in the URL is the key; an unknown one answers 404.
    "feeds.calendar": None,
    "privacy.customer": "supervisor",
    "privacy.export": "supervisor",
    "privacy.erase": "admin",
    "webhooks.index": "admin",
    "webhooks.new": "admin",
    "webhooks.edit": "admin",
    "webhooks.rotate": "admin",
    "webhooks.test": "admin",
    "webhooks.retry_failed": "admin",
    "webhooks.delete": "admin",
    "webhooks.delivery": "admin",
    "webhooks.retry": "admin",
    "static": None,
    # Public: what load balancers and monitors ask; nothing about the installation in the answer.
    "health.healthz": None,
    "health.readyz": None,
}
# Public routes whose answer depends on the system's state, not on who asks: readiness is
# 503 here (the test database was never migrated and no scheduler beats).
STATE_DEPENDENT = {"health.readyz": (200, 503)}
# Pages about one person's upload: other supervisors get 404, as if it did not exist.
OWNER_ONLY = {"imports.show", "imports.errors"}
# State-changing pages that take no CSRF token, and why.
CSRF_EXEMPT = {
    # RFC 8058 one-click unsubscribe: mail clients POST without a token; the signed URL authorises it.
    "followups.unsubscribe",
}
# API endpoints: minimum role (every one needs a token).
API_ROLES = {
    "api_customers.list_customers": "agent",
    "api_customers.create_customer": "agent",
    "api_customers.get_customer": "agent",
    "api_customers.update_customer": "agent",
    "api_customers.change_stage": "agent",
    "api_customers.stage_history": "agent",
    "api_moments.list_moment_types": "agent",
    "api_moments.create_moment_type": "admin",
    "api_moments.log_moment": "agent",
    "api_moments.list_commitments": "agent",
    "api_moments.mark_met": "agent",
    "api_moments.pause": "agent",
    "api_moments.resume": "agent",
    "api_compensations.list_compensations": "agent",
    "api_compensations.approve": "supervisor",
    "api_compensations.reject": "supervisor",
    "api_compensations.issue": "supervisor",
    "api_compensations.goodwill": "agent",
    "api_compensations.list_calendars": "agent",
    "api_compensations.create_calendar": "admin",
    "api_compensations.update_calendar": "admin",
    "api_users.list_users": "admin",
    "api_users.create_user": "admin",
    "api_insights.get_metrics": "supervisor",
    "api_insights.get_journey": "supervisor",
    "api_impact.get_impact": "supervisor",
    "api_lifecycle.list_lifecycle_rules": "supervisor",
    "api_lifecycle.update_lifecycle_rule": "admin",
    "api_purchases.list_purchases": "agent",
    "api_purchases.record_purchase": "agent",
    "api_followups.list_templates": "agent",
    "api_followups.list_followups": "agent",
    "api_followups.schedule_followup": "agent",
    "api_followups.cancel_followup": "agent",
    "api_followups.list_outbox": "admin",
    "api_followups.retry_message": "admin",
    "api_followups.cancel_message": "admin",
    "api_imports.import_file": "supervisor",
    "api_exports.export_csv": "supervisor",
    "api_privacy.customer_data": "supervisor",
    "api_privacy.erase_customer": "admin",
    "api-docs.openapi_json": None,
    "api_webhooks.list_endpoints": "admin",
    "api_webhooks.create_endpoint": "admin",
    "api_webhooks.get_endpoint": "admin",
    "api_webhooks.update_endpoint": "admin",
    "api_webhooks.delete_endpoint": "admin",
    "api_webhooks.rotate_secret": "admin",
    "api_webhooks.send_test": "admin",
    "api_webhooks.retry_failed": "admin",
    "api_webhooks.list_deliveries": "admin",
    "api_webhooks.get_delivery": "admin",
    "api_webhooks.retry_delivery": "admin",
    # API parity (tests/api/test_api_parity.py): the same role as the page each one mirrors.
    "api_customers.timeline": "agent",
    "api_moments.get_moment_type": "agent",
    "api_moments.update_moment_type": "admin",
    "api_moments.set_emotion": "agent",
    "api_users.get_user": "admin",
    "api_users.update_user": "admin",
    "api_users.list_teams": "admin",
    "api_users.create_team": "admin",
    "api_users.update_team": "admin",
    "api_compensations.get_calendar": "agent",
    "api_compensations.list_policies": "admin",
    "api_compensations.create_policy": "admin",
    "api_compensations.update_policy": "admin",
    "api_compensations.list_goodwill_limits": "admin",
    "api_compensations.set_goodwill_limit": "admin",
    "api_followups.get_template": "admin",
    "api_followups.create_template": "admin",
    "api_followups.update_template": "admin",
    "api_followups.list_rules": "admin",
    "api_followups.create_rule": "admin",
    "api_followups.update_rule": "admin",
    "api_followups.get_message": "admin",
    "api_lifecycle.run_lifecycle_rules": "admin",
    "api_profitability.get_profitability": "supervisor",
    "api_profitability.list_customer_profits": "supervisor",
    "api_profitability.decide_customer": "supervisor",
    "api_profitability.save_tier_rule": "admin",
    "api_reports.get_dashboard": "supervisor",
    "api_reports.list_blueprints": "supervisor",
    "api_reports.get_blueprint": "supervisor",
    "api_reports.weekly_report": "supervisor",
    "api_reports.charter_pdf": "agent",
    "api_account.get_account": "agent",
    "api_account.list_tokens": "agent",
    "api_account.create_token": "agent",
    "api_account.revoke_token": "agent",
    "api_account.get_feed": "agent",
    "api_account.issue_feed": "agent",
    "api_account.revoke_feed": "agent",
    "api_import_runs.list_import_runs": "supervisor",
    "api_import_runs.get_import_run": "supervisor",
    "api_import_runs.import_run_errors": "supervisor",
}
RANK = {"agent": 0, "supervisor": 1, "admin": 2}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def concrete(rule, ids):
    """A URL for the rule with real ids where it names one."""
    values = {arg: ids.get(arg, 1) for arg in rule.arguments}
    if rule.endpoint == "static":
        values = {"filename": "app.css"}
    elif rule.endpoint == "followups.survey":
        values = {"token": ids["survey_token"]}
    elif rule.endpoint == "followups.unsubscribe":
        values = {"token": ids["unsubscribe_token"]}
    elif rule.endpoint == "followups.mail_file":
        values = {"name": ids["mail_name"]}
    elif rule.endpoint == "feeds.calendar":
        values = {"secret": ids["feed_secret"]}
    elif "entity" in rule.arguments:
        values["entity"] = "customers"
    elif "kind" in rule.arguments:
        values["kind"] = "customers"
    return rule.build(values, append_unknown=False)[1]


@pytest.fixture
def ids(app, agent, admin, customer, moment_type, api_as, now, tmp_path, monkeypatch):
    from crm.auth.models import User
    from crm.auth.services import save_team
    from crm.calendars.services import save_calendar
    from crm.compensations.services import save_policy
    from crm.extensions import db
    from crm.feeds.services import issue_feed

    moment = api_as(agent).post("/api/v1/moments", json={"customer_id": customer, "moment_type": "complaint"}).json
    with app.app_context():
        actor = db.session.get(User, admin.id)
        team = save_team(actor, None, {"name": "Taller"}, now)
        calendar = save_calendar(actor, None, {"name": "Madrid", "timezone": "Europe/Madrid",
                                               "hours": {"0": [["09:00", "14:00"]]}}, now)
        policy = save_policy(actor, None, {"kind": "discount", "value": "5"}, now)
        followups = _followups(actor, customer, moment_type, now, tmp_path, monkeypatch, app)
        _, feed_secret = issue_feed(db.session.get(User, agent.id), now)
        run_id = _import_run(actor, now)
        endpoint_id, delivery_id = _webhook(actor, now)
        db.session.commit()
        team_id, calendar_id, policy_id = team.id, calendar.id, policy.id
    return {"customer_id": customer, "moment_id": moment["id"], "commitment_id": moment["commitments"][0]["id"],
            "type_id": moment_type, "user_id": agent.id, "team_id": team_id, "token_id": 1,
            "calendar_id": calendar_id, "policy_id": policy_id, "feed_secret": feed_secret, "run_id": run_id,
            "endpoint_id": endpoint_id, "delivery_id": delivery_id,
            **followups}


def _followups(actor, customer_id, moment_type, now, tmp_path, monkeypatch, app):
    """A survey email, a rule, a sent-mail file and the links customers get."""
    from crm.customers.models import Customer
    from crm.extensions import db
    from crm.followups import services
    from crm.followups.render import survey_token, unsubscribe_token
    from crm.followups.transport import FileTransport
    from tests.followups.conftest import SURVEY_TEMPLATE

    db.session.get(Customer, customer_id).marketing_consent = True
    template = services.save_template(actor, SURVEY_TEMPLATE, now)
    rule = services.save_rule(actor, {"name": "Survey", "trigger": "after_moment", "template_id": template.id,
                                      "moment_type_id": moment_type, "days": 1}, now)
    message = services.schedule_followup(actor, {"customer_id": customer_id, "template": "survey"}, now)
    monkeypatch.setitem(app.config, "CRM_MAIL_DIR", str(tmp_path))
    FileTransport(str(tmp_path)).send("a@example.es", "b@example.es", message.message, name=f"{message.id:09d}")
    return {"template_id": template.id, "rule_id": rule.id, "message_id": message.id,
            "survey_token": survey_token(message.idempotency_key), "unsubscribe_token": unsubscribe_token(customer_id),
            "mail_name": f"{message.id:09d}.eml"}


def test_every_route_has_a_declared_role(app):
    endpoints = {rule.endpoint for rule, _ in routes(app)}
    assert endpoints == set(ROUTE_ROLES) | set(API_ROLES)
    assert CSRF_EXEMPT <= set(ROUTE_ROLES)


def test_every_state_changing_page_refuses_a_post_without_csrf(app, login, admin, ids):
    b = login(admin)
    checked = 0
    for rule, method in routes(app):
        if method in STATE_CHANGING and not rule.rule.startswith("/api/") and rule.endpoint not in CSRF_EXEMPT:
            response = b.client.open(concrete(rule, ids), method=method, data={"name": "x"})
            assert response.status_code == 400, (rule.rule, method, response.status_code)
            assert "form expired" in response.get_data(as_text=True), rule.rule
            checked += 1
    assert checked >= 12


@pytest.mark.parametrize("role", [None, "agent", "supervisor", "admin"])
def test_page_roles(app, role, make_user, login, ids, client):
    b = login(make_user(role)) if role else None
    http = b.client if b else client
    for rule, method in routes(app):
        if rule.rule.startswith("/api/") or method != "GET":
            continue
        needed = ROUTE_ROLES[rule.endpoint]
        response = http.get(concrete(rule, ids))
        response.close()  # as a WSGI server does: a streamed download releases its request context
        if needed is None:
            assert response.status_code in STATE_DEPENDENT.get(rule.endpoint, (200, 302)), rule.rule
        elif role is None:
            assert response.status_code == 302 and "/login" in response.headers["Location"], rule.rule
        elif RANK[role] < RANK[needed]:
            assert response.status_code == 403, (rule.rule, role)
        elif rule.endpoint in OWNER_ONLY:
            # Not theirs: 404; an admin's own upload (its error file: back to the run until it has one).
            expected = (200, 302) if role == "admin" else (404,)
            assert response.status_code in expected, (rule.rule, role, response.status_code)
        else:
            assert response.status_code == 200, (rule.rule, role, response.status_code)


@pytest.mark.parametrize("role", [None, "agent", "supervisor", "admin"])
def test_state_changing_pages_check_roles_before_acting(app, role, make_user, login, ids, client):
    """A POST with a valid CSRF token still needs the right role."""
    b = login(make_user(role)) if role else None
    http = b.client if b else client
    token = csrf_from(http.get("/account" if role else "/login").get_data(as_text=True))
    for rule, method in routes(app):
        if rule.rule.startswith("/api/") or method not in STATE_CHANGING:
            continue
        needed = ROUTE_ROLES[rule.endpoint]
        if needed is None:
            continue
        response = http.open(concrete(rule, ids), method=method, data={"csrf_token": token})
        if role is None:
            assert response.status_code == 302 and "/login" in response.headers["Location"], rule.rule
        elif RANK[role] < RANK[needed]:
            assert response.status_code == 403, (rule.rule, role)
        else:
            assert response.status_code not in (401, 403), (rule.rule, role)
            assert response.status_code < 500


@pytest.mark.parametrize("role", [None, "agent", "supervisor", "admin"])
def test_api_roles(app, role, make_user, api_as, ids, client):
    caller = api_as(make_user(role)) if role else client
    for rule, method in routes(app):
        if not rule.rule.startswith("/api/"):
            continue
        needed = API_ROLES[rule.endpoint]
        response = getattr(caller, method.lower())(concrete(rule, ids), json={})
        response.close()
        if needed is None:
            assert response.status_code == 200
        elif role is None:
            assert response.status_code == 401, rule.rule
        elif RANK[role] < RANK[needed]:
            assert response.status_code == 403, (rule.rule, method, role)
        else:
            assert response.status_code not in (401, 403), (rule.rule, method, role, response.status_code)
            assert response.status_code < 500


def test_nobody_sees_another_persons_tokens(app, login, make_user, api_as):
    from sqlalchemy import select

    from crm.auth.models import ApiToken
    from crm.extensions import db

    owner = make_user("admin")
    api_as(owner)
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == owner.id))
    intruder = login(make_user("supervisor"))
    assert "fz_" not in intruder.get("/account").get_data(as_text=True)
    response = intruder.post(f"/account/tokens/{token_id}/revoke", {}, csrf_from_url="/account")
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None


def _webhook(actor, now) -> tuple[int, int]:
    """An endpoint with one waiting delivery (a test event)."""
    from crm.webhooks import services

    endpoint, _ = services.create_endpoint(actor, {"url": "https://shop.example.com/hooks",
                                                   "events": ["customer.created"]}, now)
    return endpoint.id, services.send_test(actor, endpoint, now).id


def _import_run(actor, now) -> int:
    """An upload waiting for its import, by an admin (others see 404: see OWNER_ONLY)."""
    from crm.imports.runs import create_run

    return create_run(actor, "customers", "clientes.csv", "name;email\nAna;ana@example.es\n".encode(), now).id
