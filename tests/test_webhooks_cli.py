"""`crm webhooks deliver` and `crm webhooks list`: what the scheduler does, by hand."""
from __future__ import annotations

from crm.auth.models import User
from crm.customers.services import create_customer
from crm.extensions import db
from crm.webhooks import services
from tests.webhook_receiver import WebhookReceiver


def test_deliver_posts_what_is_due_and_list_shows_the_queues(app, runner, admin, agent, now):
    receiver = WebhookReceiver()
    receiver.clock = lambda: now.timestamp()
    assert runner.invoke(args=["crm", "webhooks", "list"]).output == "no webhook endpoints\n"
    with app.app_context():
        endpoint, receiver.secret = services.create_endpoint(
            db.session.get(User, admin.id), {"url": receiver.url, "events": ["customer.created"]}, now)
        for name in ("Ana", "Luis"):
            create_customer(db.session.get(User, agent.id), {"name": name}, now)
        db.session.commit()
        endpoint_id = endpoint.id
    iso = now.isoformat()
    down = runner.invoke(args=["crm", "webhooks", "deliver", "--now", iso])
    assert down.exit_code == 0
    assert down.output == "0 delivered, 1 to retry, 0 failed, 1 waiting for their endpoint\n"
    listed = runner.invoke(args=["crm", "webhooks", "list"]).output
    assert listed == f"{endpoint_id}\t{receiver.url}\tactive\tcustomer.created\tpending 2, failed 0, delivered 0\n"
    receiver.start()
    try:
        later = now.replace(minute=5)
        receiver.clock = lambda: later.timestamp()
        back = runner.invoke(args=["crm", "webhooks", "deliver", "--now", later.isoformat()])
        assert back.output == "2 delivered, 0 to retry, 0 failed, 0 waiting for their endpoint\n"
        assert len(receiver.requests) == 2 and all(r["valid"] for r in receiver.requests)
    finally:
        receiver.stop()
    bad = runner.invoke(args=["crm", "webhooks", "deliver", "--now", "yesterday"])
    assert bad.exit_code == 2 and "ISO instant" in bad.output
