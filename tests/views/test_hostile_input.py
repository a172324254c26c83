"""Whatever arrives — random text, control characters, wrong types — the answer is a
success or a clear 4xx, never a 500, and a refused request leaves nothing behind."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from crm.customers.models import Customer, StageChange
from crm.extensions import db
from crm.moments.models import Moment

NAUGHTY = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", " ", "\x00", "' OR 1=1 --", "<script>alert(1)</script>", "𝕳𝖊𝖑𝖑𝖔", "\u202e", "null",
                     "9" * 40, "-1", "1e309", "NaN", "Infinity", "0x10", "%00", "../../etc/passwd", "\r\n\r\n"]),
)
JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), NAUGHTY,
                        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def counts(app):
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Customer, StageChange, Moment))


@SETTINGS
@given(name=NAUGHTY, email=NAUGHTY, phone=NAUGHTY, stage=NAUGHTY, tier=NAUGHTY, owner=NAUGHTY)
def test_customer_form(app, login, agent, name, email, phone, stage, tier, owner):
    b = login(agent)
    before = counts(app)
    response = b.post("/customers/new", {"name": name, "email": email, "phone": phone, "stage": stage,
                                         "tier": tier, "loyalty": "occasional", "language": "es",
                                         "owner_id": owner}, csrf_from_url="/customers/new")
    assert response.status_code in (302, 400)
    after = counts(app)
    if response.status_code == 400:
        assert after == before
    else:
        assert after[0] == before[0] + 1


@SETTINGS
@given(payload=st.dictionaries(st.sampled_from(["name", "email", "phone", "company", "segment", "stage", "tier",
                                                "loyalty", "language", "owner_id", "marketing_consent", "x"]),
                               JSON_VALUES, max_size=6))
def test_customer_api(app, api_as, agent, payload):
    api = api_as(agent)
    before = counts(app)
    response = api.post("/api/v1/customers", json=payload)
    assert response.status_code in (201, 400, 409, 413, 422), response.get_json()
    if response.status_code != 201:
        assert counts(app) == before and "error" in response.get_json()


@SETTINGS
@given(payload=st.dictionaries(st.sampled_from(["customer_id", "moment_type", "channel", "emotion", "notes",
                                                "occurred_at", "follows_moment_id", "outcome", "cost", "staff_id"]),
                               JSON_VALUES, max_size=6))
def test_moment_api(app, api_as, agent, customer, moment_type, payload):
    payload.setdefault("customer_id", customer)
    payload.setdefault("moment_type", "complaint")
    before = counts(app)
    response = api_as(agent).post("/api/v1/moments", json=payload)
    assert response.status_code in (201, 400, 404, 422), response.get_json()
    if response.status_code != 201:
        assert counts(app) == before


@SETTINGS
@given(q=NAUGHTY, stage=NAUGHTY, page=NAUGHTY, owner=NAUGHTY)
def test_search_page_and_api(login, api_as, agent, q, stage, page, owner):
    b = login(agent)
    assert b.get("/customers", query_string={"q": q, "stage": stage, "page": page, "owner": owner}).status_code == 200
    response = api_as(agent).get("/api/v1/customers", query_string={"q": q, "stage": stage, "page": page})
    assert response.status_code in (200, 422)


@SETTINGS
@given(stage=NAUGHTY, reason=NAUGHTY)
def test_stage_change_form(app, login, agent, customer, stage, reason):
    b = login(agent)
    before = counts(app)
    url = f"/customers/{customer}"
    response = b.post(f"{url}/stage", {"stage-stage": stage, "stage-reason": reason}, csrf_from_url=url)
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        assert counts(app) == before
