"""`crm webhooks …`: deliver due webhooks now, and list the endpoints with their queues."""
from __future__ import annotations

import click

from crm.commands import _parse_now, crm_cli


@crm_cli.group("webhooks")
def webhooks_cli():
    """Webhook endpoints and deliveries."""


@webhooks_cli.command("deliver")
@click.option("--now", "now_text", help="Deliver what is due at this ISO instant (default: now).")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many deliveries.")
def deliver(now_text, limit):
    """Post the due deliveries (the scheduler does this every 15 seconds); prints counts."""
    from crm.webhooks.dispatch import deliver_due

    click.echo(str(deliver_due(_parse_now(now_text), limit=limit)))


@webhooks_cli.command("list")
def list_endpoints():
    """Each endpoint with its events and how many deliveries wait or failed."""
    from crm.webhooks import services

    endpoints = services.list_endpoints()
    counts = services.delivery_counts()
    for endpoint in endpoints:
        c = counts.get(endpoint.id, {})
        state = "active" if endpoint.active else "inactive"
        click.echo(f"{endpoint.id}\t{endpoint.url}\t{state}\t{','.join(endpoint.events)}\t"
                   f"pending {c.get('pending', 0) + c.get('sending', 0)}, failed {c.get('failed', 0)}, "
                   f"delivered {c.get('delivered', 0)}")
    if not endpoints:
        click.echo("no webhook endpoints")
