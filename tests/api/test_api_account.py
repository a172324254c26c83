"""/api/v1/account (own tokens and calendar feed) and /api/v1/import-runs (own uploads):
the caller's own things only, secrets shown once and never stored or listed."""
import pytest
from sqlalchemy import select

from crm.extensions import db
from tests.api.errors import error_of

ENVELOPE = {"items", "total", "page", "per_page", "pages", "has_next"}
TOKEN_FIELDS = {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at"}


class TestTokens:
    def test_list_create_use_revoke(self, api_as, agent, app):
        from crm.auth.models import ApiToken
        from tests.conftest import Api

        api = api_as(agent)
        me = api.get("/api/v1/account").get_json()
        assert (me["id"], me["email"], me["role"]) == (agent.id, agent.email, "agent") and "password" not in me
        created = api.post("/api/v1/account/tokens", json={"name": "Centralita"})
        assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
        token = created.get_json()
        assert set(token) == TOKEN_FIELDS | {"secret"} and token["secret"].startswith("fz_")
        assert token["secret"].startswith(token["prefix"])
        with app.app_context():
            stored_hash = db.session.get(ApiToken, token["id"]).token_hash
            assert token["secret"] not in stored_hash
        listing = api.get("/api/v1/account/tokens")
        body = listing.get_json()
        assert set(body) == ENVELOPE and body["total"] == 2
        assert all(set(item) == TOKEN_FIELDS for item in body["items"])
        assert token["secret"] not in listing.get_data(as_text=True)
        assert stored_hash not in listing.get_data(as_text=True)
        assert body["items"][0]["name"] == "Centralita"
        new = Api(app.test_client(), token["secret"])
        assert new.get("/api/v1/account").get_json()["id"] == agent.id
        revoked = api.post(f"/api/v1/account/tokens/{token['id']}/revoke")
        assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
        assert new.get("/api/v1/account").status_code == 401
        again = api.post(f"/api/v1/account/tokens/{token['id']}/revoke")
        assert again.get_json()["revoked_at"] == revoked.get_json()["revoked_at"]

    def test_only_ones_own_tokens(self, api_as, agent, supervisor, app):
        from crm.auth.models import ApiToken

        api_as(agent)
        with app.app_context():
            agents_token = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == agent.id))
        intruder = api_as(supervisor)
        assert [t["id"] for t in intruder.get("/api/v1/account/tokens").get_json()["items"]] != [agents_token]
        refused = intruder.post(f"/api/v1/account/tokens/{agents_token}/revoke")
        assert refused.status_code == 404 and error_of(refused)["code"] == "not_found"
        with app.app_context():
            assert db.session.get(ApiToken, agents_token).revoked_at is None

    @pytest.mark.parametrize("body", [{"name": "x" * 81}, {"name": 5}, {"name": "a", "secret": "fz_mine"}])
    def test_bad_input_makes_no_token(self, api_as, agent, app, body):
        from crm.auth.models import ApiToken

        api = api_as(agent)
        assert api.post("/api/v1/account/tokens", json=body).status_code == 422
        with app.app_context():
            assert len(db.session.scalars(select(ApiToken)).all()) == 1


class TestFeed:
    def test_issue_use_replace_revoke(self, api_as, agent, client):
        api = api_as(agent)
        assert api.get("/api/v1/account/feed").get_json() == {"active": False, "created_at": None,
                                                              "last_used_at": None}
        issued = api.post("/api/v1/account/feed")
        assert issued.status_code == 201 and issued.headers["Cache-Control"] == "no-store"
        body = issued.get_json()
        path = "/feeds/" + body["url"].split("/feeds/", 1)[1]
        assert body["active"] and body["webcal_url"].startswith("webcal://") and path.endswith(".ics")
        assert client.get(path).status_code == 200
        state = api.get("/api/v1/account/feed").get_json()
        assert state["active"] and "url" not in state
        replaced = api.post("/api/v1/account/feed").get_json()
        assert replaced["url"] != body["url"] and client.get(path).status_code == 404
        assert api.post("/api/v1/account/feed/revoke").get_json()["active"] is False
        assert client.get("/feeds/" + replaced["url"].split("/feeds/", 1)[1]).status_code == 404
        assert api.post("/api/v1/account/feed/revoke").status_code == 200  # nothing left: nothing changes

    def test_each_person_has_their_own(self, api_as, agent, supervisor):
        api_as(agent).post("/api/v1/account/feed")
        assert api_as(supervisor).get("/api/v1/account/feed").get_json()["active"] is False


CSV = "nombre;email\nAna;ana@example.es\nLuis;no-es-un-email\n".encode()


@pytest.fixture
def upload(app, supervisor, now):
    from crm.auth.models import User
    from crm.imports.runs import create_run

    with app.app_context():
        run = create_run(db.session.get(User, supervisor.id), "customers", "clientes.csv", CSV, now)
        db.session.commit()
        return run.id


class TestImportRuns:
    def test_the_uploader_sees_their_run(self, api_as, supervisor, upload):
        api = api_as(supervisor)
        listing = api.get("/api/v1/import-runs").get_json()
        assert set(listing) == ENVELOPE and [r["id"] for r in listing["items"]] == [upload]
        run = listing["items"][0]
        assert (run["kind"], run["status"], run["has_errors"], run["counts"]["rejected"]) == (
            "customers", "checked", True, 1)
        detail = api.get(f"/api/v1/import-runs/{upload}").get_json()
        assert detail["columns"] == [{"header": "nombre", "field": "name"}, {"header": "email", "field": "email"}]
        errors = api.get(f"/api/v1/import-runs/{upload}/errors.csv")
        assert errors.status_code == 200 and errors.mimetype == "text/csv"
        assert "no-es-un-email" in errors.get_data(as_text=True)

    def test_others_get_404_admins_see_all_agents_403(self, api_as, make_user, admin, agent, upload):
        other = api_as(make_user("supervisor"))
        assert other.get("/api/v1/import-runs").get_json()["total"] == 0
        assert error_of(other.get(f"/api/v1/import-runs/{upload}"))["code"] == "not_found"
        assert other.get(f"/api/v1/import-runs/{upload}/errors.csv").status_code == 404
        assert api_as(admin).get("/api/v1/import-runs").get_json()["total"] == 1
        assert api_as(agent).get("/api/v1/import-runs").status_code == 403

    def test_no_error_file_without_rejected_rows(self, api_as, supervisor, app, now):
        from crm.auth.models import User
        from crm.imports.runs import create_run

        with app.app_context():
            run = create_run(db.session.get(User, supervisor.id), "customers", "ok.csv",
                             b"nombre;email\nAna;ana@example.es\n", now)
            db.session.commit()
            run_id = run.id
        missing = api_as(supervisor).get(f"/api/v1/import-runs/{run_id}/errors.csv")
        assert missing.status_code == 404 and error_of(missing)["message"] == "No row was rejected."
