"""API parity: every action a page offers (and every page that shows data) has an operation
in the OpenAPI document, asking the same role.

When a page gains a POST route, this test fails until the route is mapped to its API
operation below, or excluded with the reason it has none.
"""
from __future__ import annotations

import re

import pytest

from tests.views.test_security_walk import API_ROLES, ROUTE_ROLES

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

# Page endpoint → the API operations doing the same (method, path as in /api/v1/openapi.json).
PAGE_ACTIONS = {
    "admin.new_user": [("POST", "/api/v1/users")],
    "admin.edit_user": [("PATCH", "/api/v1/users/{user_id}")],
    "admin.edit_team": [("POST", "/api/v1/teams"), ("PUT", "/api/v1/teams/{team_id}")],
    "admin.edit_moment_type": [("POST", "/api/v1/moment-types"), ("PATCH", "/api/v1/moment-types/{type_id}")],
    "admin.edit_calendar": [("POST", "/api/v1/calendars"), ("PATCH", "/api/v1/calendars/{calendar_id}")],
    "admin.edit_policy": [("POST", "/api/v1/compensation-policies"),
                          ("PUT", "/api/v1/compensation-policies/{policy_id}")],
    # The policies page's own POST sets a role's goodwill limit.
    "admin.compensation_policies": [("PUT", "/api/v1/goodwill-limits/{role}")],
    # The account page's POST makes a token, or changes the password (see EXCLUDED_ACTIONS).
    "auth.account": [("POST", "/api/v1/account/tokens")],
    "auth.revoke_token": [("POST", "/api/v1/account/tokens/{token_id}/revoke")],
    "compensations.approve": [("POST", "/api/v1/compensations/{compensation_id}/approve")],
    "compensations.reject": [("POST", "/api/v1/compensations/{compensation_id}/reject")],
    "compensations.issue": [("POST", "/api/v1/compensations/{compensation_id}/issue")],
    "compensations.goodwill": [("POST", "/api/v1/moments/{moment_id}/goodwill")],
    "customers.create": [("POST", "/api/v1/customers")],
    "customers.edit": [("PATCH", "/api/v1/customers/{customer_id}")],
    "customers.change_stage": [("POST", "/api/v1/customers/{customer_id}/stage")],
    "customers.record_purchase": [("POST", "/api/v1/purchases")],
    "feeds.issue": [("POST", "/api/v1/account/feed")],
    "feeds.revoke": [("POST", "/api/v1/account/feed/revoke")],
    "followups.schedule": [("POST", "/api/v1/followups")],
    "followups.cancel": [("POST", "/api/v1/followups/{message_id}/cancel")],
    "followups.cancel_admin": [("POST", "/api/v1/outbox/{message_id}/cancel")],
    "followups.retry": [("POST", "/api/v1/outbox/{message_id}/retry")],
    "followups.edit_template": [("POST", "/api/v1/templates"), ("PUT", "/api/v1/templates/{template_id}")],
    "followups.edit_rule": [("POST", "/api/v1/followup-rules"), ("PUT", "/api/v1/followup-rules/{rule_id}")],
    # The page uploads, checks (a dry run with chosen columns) and imports in three steps;
    # the API does it in one call, `?dry_run=true` being the check.
    "imports.index": [("POST", "/api/v1/imports/{kind}")],
    "imports.check": [("POST", "/api/v1/imports/{kind}")],
    "imports.run": [("POST", "/api/v1/imports/{kind}")],
    "insights.decide_customer": [("POST", "/api/v1/profitability/{customer_id}/decision")],
    "insights.tier_rule": [("PUT", "/api/v1/profitability/rule")],
    "lifecycle.save_rules": [("PUT", "/api/v1/lifecycle-rules/{code}")],
    "lifecycle.run_now": [("POST", "/api/v1/lifecycle-rules/run")],
    "moments.log": [("POST", "/api/v1/moments")],
    "moments.set_emotion": [("POST", "/api/v1/moments/{moment_id}/emotion")],
    "moments.mark_met": [("POST", "/api/v1/commitments/{commitment_id}/met")],
    "moments.pause": [("POST", "/api/v1/commitments/{commitment_id}/pause")],
    "moments.resume": [("POST", "/api/v1/commitments/{commitment_id}/resume")],
    "privacy.erase": [("POST", "/api/v1/customers/{customer_id}/erase")],
    "webhooks.new": [("POST", "/api/v1/webhooks")],
    "webhooks.edit": [("PATCH", "/api/v1/webhooks/{endpoint_id}")],
    "webhooks.rotate": [("POST", "/api/v1/webhooks/{endpoint_id}/rotate-secret")],
    "webhooks.test": [("POST", "/api/v1/webhooks/{endpoint_id}/test")],
    "webhooks.retry_failed": [("POST", "/api/v1/webhooks/{endpoint_id}/retry-failed")],
    "webhooks.delete": [("DELETE", "/api/v1/webhooks/{endpoint_id}")],
    "webhooks.retry": [("POST", "/api/v1/webhook-deliveries/{delivery_id}/retry")],
}

# State-changing pages with no API operation, on purpose.
EXCLUDED_ACTIONS = {
    "auth.login": "Starts a browser session; the API authenticates every call with a bearer token.",
    "auth.logout": "Ends a browser session; an API client revokes its token instead.",
    "auth.reauthenticate": "Refreshes a browser session's login before a money decision; tokens have no session.",
    "auth.set_language": "The session's language; API callers send Accept-Language (and their profile's "
                         "language is set by an admin through PATCH /users/{id}).",
    "followups.survey": "The public survey page for customers, opened from their email; not staff work.",
    "followups.unsubscribe": "The public unsubscribe page for customers (and RFC 8058 one-click); not staff work.",
}
# Part of a mapped page that the API leaves out on purpose.
EXCLUDED_PARTS = {
    "auth.account": "Changing one's password stays on the page, behind the current password in a logged-in "
                    "session: a leaked token, which can be revoked, must not lead to the password.",
    "followups.edit_template": "The page's preview button renders sample messages and saves nothing.",
}

# Pages that only show data → the API operations answering the same data.
PAGE_VIEWS = {
    "admin.users": [("GET", "/api/v1/users")],
    "admin.teams": [("GET", "/api/v1/teams")],
    "admin.moment_types": [("GET", "/api/v1/moment-types")],
    "admin.calendars": [("GET", "/api/v1/calendars")],
    "charter.page": [("GET", "/api/v1/charter.pdf")],
    "charter.pdf": [("GET", "/api/v1/charter.pdf")],
    "compensations.review": [("GET", "/api/v1/compensations")],
    "customers.index": [("GET", "/api/v1/customers")],
    "customers.detail": [("GET", "/api/v1/customers/{customer_id}"),
                         ("GET", "/api/v1/customers/{customer_id}/timeline")],
    "customers.purchases": [("GET", "/api/v1/purchases")],
    "exports.download": [("GET", "/api/v1/exports/{entity}.csv")],
    "feeds.index": [("GET", "/api/v1/account/feed")],
    "followups.customer_panel": [("GET", "/api/v1/followups")],
    "followups.outbox": [("GET", "/api/v1/outbox")],
    "followups.message": [("GET", "/api/v1/outbox/{message_id}")],
    "followups.templates": [("GET", "/api/v1/templates")],
    "followups.rules": [("GET", "/api/v1/followup-rules")],
    "imports.show": [("GET", "/api/v1/import-runs/{run_id}")],
    "imports.errors": [("GET", "/api/v1/import-runs/{run_id}/errors.csv")],
    "insights.dashboard": [("GET", "/api/v1/dashboard")],
    "insights.metrics": [("GET", "/api/v1/metrics")],
    "insights.journey": [("GET", "/api/v1/journey")],
    "insights.blueprints": [("GET", "/api/v1/blueprints")],
    "insights.blueprint": [("GET", "/api/v1/blueprints/{type_id}")],
    "insights.impact": [("GET", "/api/v1/impact")],
    "insights.profitability": [("GET", "/api/v1/profitability"), ("GET", "/api/v1/profitability/customers")],
    "insights.weekly_report": [("GET", "/api/v1/reports/weekly.pdf")],
    "lifecycle.rules": [("GET", "/api/v1/lifecycle-rules")],
    "moments.home": [("GET", "/api/v1/commitments")],
    "moments.queue": [("GET", "/api/v1/commitments")],
    "privacy.customer": [("GET", "/api/v1/customers/{customer_id}/data")],
    "privacy.export": [("GET", "/api/v1/customers/{customer_id}/data")],
    "webhooks.index": [("GET", "/api/v1/webhooks")],
    "webhooks.delivery": [("GET", "/api/v1/webhook-deliveries/{delivery_id}")],
}
EXCLUDED_VIEWS = {
    "admin.index": "The admin menu: links, no data.",
    "exports.index": "A form choosing what to export; the export itself is GET /api/v1/exports/{entity}.csv.",
    "moments.log_details": "A fragment of the log form (choosers for recent contacts and staff); the API takes ids.",
    "feeds.calendar": "The calendar feed itself, read by calendar apps with the secret in its address.",
    "followups.mail": "The development mail viewer (the file transport's folder), not business data.",
    "followups.mail_file": "The development mail viewer (the file transport's folder), not business data.",
    "health.healthz": "A liveness probe for the load balancer, not data.",
    "health.readyz": "A readiness probe for the load balancer, not data.",
    "static": "CSS, scripts and images.",
}
# Reads where the API asks for another role than the page, and why (actions never differ).
ROLE_DIFFERENCES = {
    "charter.page": "A public page; every API call needs a token, so the API asks for the lowest role.",
    "charter.pdf": "A public file; every API call needs a token, so the API asks for the lowest role.",
    "moments.queue": "The queue page is every owner's; agents read commitments on each customer's page, so the "
                     "API's commitment list (filtered by owner or customer) is open to them.",
    "compensations.review": "Agents see each customer's compensations on the customer page; the API's list "
                            "(filtered by customer) is open to them. Deciding stays with supervisors.",
    "admin.moment_types": "Agents log contacts by moment type: they read the catalog (the log form lists it); "
                          "changing it stays with admins.",
    "admin.calendars": "Everyone reads the business calendars behind deadlines (the charter shows them); "
                       "changing them stays with admins.",
    "followups.templates": "Agents schedule one-off messages by template code (the customer page lists the "
                           "templates); changing them stays with admins.",
    "lifecycle.rules": "Supervisors read the rules through the API (they explain stage moves to their team); "
                       "changing them stays with admins.",
}


def openapi_path(rule: str) -> str:
    """/api/v1/customers/<id:customer_id> → /api/v1/customers/{customer_id}"""
    return re.sub(r"<(?:[^<>]*:)?([^<>:]+)>", r"{\1}", rule)


@pytest.fixture(scope="module")
def spec(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def page_routes(app):
    """(endpoint, methods) of every page route; several rules of one endpoint are merged."""
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            found.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return found


def api_endpoints(app) -> dict[tuple[str, str], str]:
    """(method, OpenAPI path) → the API's Flask endpoint."""
    out = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                out[(method, openapi_path(rule.rule))] = rule.endpoint
    return out


def test_the_lists_have_no_stale_or_doubled_entries(app):
    routes = page_routes(app)
    for table in (PAGE_ACTIONS, EXCLUDED_ACTIONS, PAGE_VIEWS, EXCLUDED_VIEWS, EXCLUDED_PARTS, ROLE_DIFFERENCES):
        assert set(table) <= set(routes), sorted(set(table) - set(routes))
    assert not set(PAGE_ACTIONS) & set(EXCLUDED_ACTIONS)
    assert not set(PAGE_VIEWS) & set(EXCLUDED_VIEWS)
    assert set(EXCLUDED_PARTS) <= set(PAGE_ACTIONS)
    assert all(reason.strip() for table in (EXCLUDED_ACTIONS, EXCLUDED_VIEWS, EXCLUDED_PARTS, ROLE_DIFFERENCES)
               for reason in table.values())


def test_every_state_changing_page_has_an_api_operation(app, spec):
    """Fails when a page gains a POST (PUT, PATCH, DELETE) without an API counterpart."""
    missing = []
    for endpoint, methods in sorted(page_routes(app).items()):
        if not methods & STATE_CHANGING or endpoint in EXCLUDED_ACTIONS:
            continue
        if endpoint not in PAGE_ACTIONS:
            missing.append(f"{endpoint}: no API operation mapped")
            continue
        for method, path in PAGE_ACTIONS[endpoint]:
            if method.lower() not in spec["paths"].get(path, {}):
                missing.append(f"{endpoint}: {method} {path} is not in the OpenAPI document")
    assert not missing, "\n".join(missing)


def test_every_page_showing_data_has_an_api_operation(app, spec):
    missing = []
    for endpoint, methods in sorted(page_routes(app).items()):
        if methods & STATE_CHANGING or endpoint in EXCLUDED_VIEWS:
            continue  # a form's GET belongs to its action
        if endpoint not in PAGE_VIEWS:
            missing.append(f"{endpoint}: no API operation mapped")
            continue
        for method, path in PAGE_VIEWS[endpoint]:
            if method.lower() not in spec["paths"].get(path, {}):
                missing.append(f"{endpoint}: {method} {path} is not in the OpenAPI document")
    assert not missing, "\n".join(missing)


def test_each_api_counterpart_asks_the_pages_role(app):
    endpoints = api_endpoints(app)
    wrong = []
    for table, may_differ in ((PAGE_ACTIONS, False), (PAGE_VIEWS, True)):
        for page, operations in table.items():
            if page not in ROUTE_ROLES:
                continue  # not declared yet: tests/views/test_security_walk.py fails for it
            for operation in operations:
                api_role = API_ROLES.get(endpoints[operation], "undeclared")
                page_role = ROUTE_ROLES[page]
                if api_role != page_role and not (may_differ and page in ROLE_DIFFERENCES):
                    wrong.append(f"{page} ({page_role}) → {operation} ({api_role})")
    assert not wrong, "\n".join(wrong)


def test_every_api_operation_is_documented(spec):
    """A summary or description, and a documented answer, for each operation."""
    undocumented = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            if not (operation.get("summary") or operation.get("description")):
                undocumented.append(f"{method.upper()} {path}: no summary")
            if not any(code.startswith("2") for code in operation.get("responses", {})):
                undocumented.append(f"{method.upper()} {path}: no success response")
            if method in ("post", "put", "patch") and operation.get("requestBody"):
                content = operation["requestBody"]["content"]
                assert any("schema" in body for body in content.values()), (method, path)
    assert not undocumented, "\n".join(undocumented)


def test_every_list_pages_the_same_way(app, spec):
    """Each list operation takes `page` and `per_page` and answers the one envelope."""
    envelope = {"items", "total", "page", "per_page", "pages", "has_next"}
    schemas = spec["components"]["schemas"]
    lists = 0
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        body = get["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if body.get("type") == "array":
            pytest.fail(f"GET {path} answers a bare array, not the page envelope")
        name = body.get("$ref", "").rsplit("/", 1)[-1]
        if not name.endswith("Page"):
            continue
        lists += 1
        assert set(schemas[name]["properties"]) == envelope, path
        parameters = {p["name"] for p in get.get("parameters", []) if p["in"] == "query"}
        assert {"page", "per_page"} <= parameters, path
    assert lists >= 20
