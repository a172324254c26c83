"""POST /api/v1/imports/<kind>: the same import as the page and the CLI, for scripts."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from crm.customers.models import Customer, Purchase
from crm.extensions import db

FILE = ("name,email,phone\n"
        "Ana Ruiz,ana@example.es,600111222\n"
        "Sin nombre,,\n"
        ",nobody@example.es,\n").encode()


def post(api, kind, data: bytes, **query):
    return api.post(f"/api/v1/imports/{kind}", query_string=query, data={"file": (io.BytesIO(data), "f.csv")},
                    content_type="multipart/form-data")


def customers(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Customer))


def test_dry_run_then_import(app, api_as, supervisor):
    api = api_as(supervisor)
    response = post(api, "customers", FILE, dry_run="true")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["dry_run"] is True and body["delimiter"] == "," and body["encoding"] == "UTF-8"
    assert body["counts"] == {"rows": 3, "created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert body["errors"] == [{"line": 4, "reason": "Name: is required", "fields": {"name": "is required"},
                               "cells": ["", "nobody@example.es", ""]}]
    assert body["columns"] == {"name": "name", "email": "email", "phone": "phone"}
    assert customers(app) == 0
    response = post(api, "customers", FILE)
    assert response.status_code == 200 and response.json["counts"]["created"] == 2
    assert customers(app) == 2
    again = post(api, "customers", FILE)
    assert again.json["counts"]["unchanged"] == 2 and customers(app) == 2


def test_purchases_refer_to_customers(app, api_as, admin, customer):
    api = api_as(admin)
    data = "customer_phone;purchased_on;amount\n612 345 678;2026-11-01;12,5\n699999999;2026-11-01;3\n".encode()
    body = post(api, "purchases", data).json
    assert body["counts"]["created"] == 1 and body["errors"][0]["reason"] == "Customer phone: no such customer"
    with app.app_context():
        assert db.session.scalar(select(Purchase.customer_id)) == customer


def test_refusals(app, api_as, agent, supervisor):
    assert post(api_as(agent), "customers", FILE).status_code == 403
    api = api_as(supervisor)
    assert post(api, "nonsense", FILE).status_code == 404
    bad = post(api, "customers", b"\x00\x01binary")
    assert bad.status_code == 422 and "not a CSV file" in bad.json["error"]["fields"]["file"][0]
    missing = api.post("/api/v1/imports/customers", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422
    no_token = app.test_client().post("/api/v1/imports/customers", data={"file": (io.BytesIO(FILE), "f.csv")})
    assert no_token.status_code == 401
    assert customers(app) == 0
