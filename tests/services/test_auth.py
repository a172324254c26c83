"""Staff accounts, tokens and login throttling."""
from datetime import timedelta

import pytest

from crm.auth import services
from crm.auth.models import ApiToken, LoginAttempt, User
from crm.domain import Conflict, Forbidden, NotFound, ValidationFailed
from crm.extensions import db


def get(user):
    return db.session.get(User, user.id)


class TestAccounts:
    def test_admin_creates_users_with_hashed_passwords(self, ctx, admin, now):
        user = services.create_user(get(admin), {"email": " Pepe@Example.ES ", "name": "Pepe",
                                                  "role": "supervisor", "password": "s3cret-pass"}, now)
        assert user.email == "pepe@example.es"
        assert "s3cret-pass" not in user.password_hash and user.check_password("s3cret-pass")

    def test_only_admins_manage_accounts(self, ctx, agent, supervisor, now):
        for actor in (agent, supervisor):
            with pytest.raises(Forbidden):
                services.create_user(get(actor), {"email": "x@y.es", "name": "X", "role": "admin",
                                                  "password": "12345678"}, now)
        with pytest.raises(Forbidden):
            services.update_user(get(agent), get(agent), {"role": "admin"}, now)
        assert get(agent).role == "agent"

    def test_people_change_their_own_language_and_password(self, ctx, agent, now):
        me = get(agent)
        services.update_user(me, me, {"locale": "en", "password": "another-pass"}, now)
        assert me.locale == "en" and me.check_password("another-pass")

    def test_validation_and_duplicates(self, ctx, admin, agent, now):
        with pytest.raises(ValidationFailed) as err:
            services.create_user(get(admin), {"email": "nope", "name": "", "role": "boss", "password": "short"}, now)
        assert set(err.value.fields) == {"email", "name", "role", "password"}
        with pytest.raises(Conflict):
            services.create_user(get(admin), {"email": agent.email.upper(), "name": "Dup", "role": "agent",
                                              "password": "12345678"}, now)

    def test_admins_cannot_lock_themselves_out(self, ctx, admin, now):
        with pytest.raises(Forbidden):
            services.update_user(get(admin), get(admin), {"role": "agent"}, now)
        with pytest.raises(Forbidden):
            services.update_user(get(admin), get(admin), {"active": False}, now)


class TestTokens:
    def test_only_the_hash_is_stored_and_the_token_authenticates(self, ctx, agent, now):
        token, secret = services.issue_token(None, get(agent), "zapier", now)
        assert secret.startswith("fz_") and len(secret) > 40
        assert token.token_hash == services.hash_token(secret) and secret not in token.token_hash
        assert services.user_for_token(secret, now).id == agent.id
        assert token.last_used_at == now
        assert services.user_for_token(secret + "x", now) is None
        assert services.user_for_token("", now) is None

    def test_revoked_tokens_and_inactive_users_do_not_authenticate(self, ctx, agent, admin, now):
        token, secret = services.issue_token(None, get(agent), "", now)
        services.revoke_token(get(agent), token.id, now)
        assert services.user_for_token(secret, now) is None
        _, second = services.issue_token(None, get(agent), "", now)
        get(agent).active = False
        assert services.user_for_token(second, now) is None

    def test_nobody_touches_another_persons_tokens(self, ctx, agent, make_user, now):
        other = make_user("supervisor")
        token, _ = services.issue_token(None, get(other), "", now)
        with pytest.raises(NotFound):
            services.revoke_token(get(agent), token.id, now)
        with pytest.raises(Forbidden):
            services.issue_token(get(agent), get(other), "", now)
        assert db.session.get(ApiToken, token.id).revoked_at is None


class TestLogin:
    def test_good_credentials_clear_failures(self, ctx, agent, now):
        from tests.conftest import PASSWORD

        with pytest.raises(services.InvalidCredentials):
            services.authenticate(agent.email, "wrong", "10.0.0.1", now)
        assert services.authenticate(agent.email.upper(), PASSWORD, "10.0.0.1", now).id == agent.id
        assert db.session.query(LoginAttempt).count() == 0

    def test_throttled_per_account_even_with_the_right_password(self, ctx, agent, now):
        from tests.conftest import PASSWORD

        for i in range(5):
            with pytest.raises(services.InvalidCredentials):
                services.authenticate(agent.email, "wrong", f"10.0.0.{i}", now)
        with pytest.raises(services.LoginThrottled):
            services.authenticate(agent.email, PASSWORD, "10.0.0.99", now + timedelta(minutes=1))
        # The window passes and the account opens again.
        assert services.authenticate(agent.email, PASSWORD, "10.0.0.99", now + timedelta(minutes=16))

    def test_throttled_per_address_across_accounts(self, ctx, agent, now):
        from tests.conftest import PASSWORD

        for i in range(20):
            with pytest.raises(services.InvalidCredentials):
                services.authenticate(f"nobody{i}@example.es", "x", "203.0.113.7", now)
        with pytest.raises(services.LoginThrottled):
            services.authenticate(agent.email, PASSWORD, "203.0.113.7", now)
        assert services.authenticate(agent.email, PASSWORD, "198.51.100.1", now).id == agent.id
