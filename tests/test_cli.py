"""`flask --app wsgi crm …` commands."""
from sqlalchemy import func, select

from crm.auth.models import User
from crm.customers.lifecycle import STAGES
from crm.customers.models import Customer
from crm.extensions import db
from crm.moments.models import PHASES, Commitment, Moment, MomentType


def test_create_user_then_token_that_works(runner, client, app):
    result = runner.invoke(args=["crm", "create-user", "--email", "Rosa@Example.es", "--name", "Rosa",
                                 "--role", "supervisor", "--password", "bastante-larga"])
    assert result.exit_code == 0, result.output
    token = runner.invoke(args=["crm", "create-token", "--email", "rosa@example.es"])
    assert token.exit_code == 0
    secret = token.output.strip().splitlines()[-1]
    response = client.get("/api/v1/customers", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "rosa@example.es"))
        assert user.role == "supervisor" and user.check_password("bastante-larga")


def test_create_user_refuses_bad_input_clearly(runner, app):
    result = runner.invoke(args=["crm", "create-user", "--email", "nope", "--name", "X", "--role", "agent",
                                 "--password", "short"])
    assert result.exit_code != 0
    assert "email" in result.output and "password" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0


def test_create_token_for_unknown_user(runner):
    result = runner.invoke(args=["crm", "create-token", "--email", "ghost@example.es"])
    assert result.exit_code != 0 and "no user" in result.output


def test_seed_demo_is_realistic_and_idempotent(runner, app):
    assert runner.invoke(args=["crm", "is-empty"]).exit_code == 0
    first = runner.invoke(args=["crm", "seed-demo", "--customers", "280", "--moments", "700"])
    assert first.exit_code == 0, first.output
    assert "agent@demo.local" in first.output
    assert runner.invoke(args=["crm", "is-empty"]).exit_code == 1
    with app.app_context():
        counts = dict(db.session.execute(select(Customer.stage, func.count()).group_by(Customer.stage)).all())
        assert set(counts) == set(STAGES) and min(counts.values()) == 40
        # The demo starts as the lifecycle rules leave it: the first nightly run moves nobody.
        from crm.customers.automation import apply_lifecycle_rules
        from crm.types import utc_now

        assert apply_lifecycle_rules(utc_now()).customers == 0
        db.session.rollback()
        phases = set(db.session.scalars(select(MomentType.phase)))
        assert phases == set(PHASES) and db.session.scalar(select(func.count(MomentType.id))) >= 8
        moments = db.session.scalar(select(func.count(Moment.id)))
        assert moments >= 700
        assert db.session.scalar(select(func.count(Commitment.id)).where(Commitment.status == "open")) > 0
        from crm.compensations.models import CompensationPolicy
        from crm.moments.sweep import sweep_commitments

        assert db.session.scalar(select(func.count(CompensationPolicy.id))) >= 4
        swept = sweep_commitments(utc_now())  # what the scheduler does on first start
        assert swept.breached > 0 and swept.proposed + swept.issued == swept.breached
        db.session.rollback()
        demo = db.session.scalar(select(User).where(User.email == "agent@demo.local"))
        assert demo.check_password("demo")
    second = runner.invoke(args=["crm", "seed-demo"])
    assert second.exit_code == 0 and "already present" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Moment.id))) == moments


def test_demo_pages_show_real_content(runner, login, app):
    runner.invoke(args=["crm", "seed-demo", "--customers", "140", "--moments", "400"])
    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == "agent@demo.local"))
        db.session.expunge(agent)
    from tests.conftest import Browser, english_client

    b = Browser(english_client(app)).login(agent, password="demo")
    assert "Mark met" in b.get("/").get_data(as_text=True)
    listing = b.get("/customers").get_data(as_text=True)
    assert "140 customers" in listing
