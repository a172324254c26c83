"""The security tests reuse the route walk's objects: a customer, a moment, a survey link, an
upload, a webhook… one of each, with their ids (tests/views/test_security_walk.py)."""
from tests.views.test_security_walk import ids  # noqa: F401 (a fixture)
