"""`flask --app wsgi crm …` commands of crm.privacy (registered on the crm group on import)."""
from __future__ import annotations

import json

import click

from crm.commands import _fail, crm_cli
from crm.domain import DomainError
from crm.extensions import db
from crm.types import utc_now


def _customer(customer_id: int):
    from crm.customers.models import Customer

    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise click.ClickException(f"no customer with id {customer_id}")
    return customer


@crm_cli.command("erase-customer")
@click.argument("customer_id", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why (the customer's request and its date).")
@click.option("--yes", is_flag=True, help="Do it without asking.")
def erase_customer(customer_id, reason, yes):
    """Erase one customer's personal data; their figures stay."""
    from crm.privacy.services import erase_customer as erase

    customer = _customer(customer_id)
    if not yes:
        click.confirm(f"Erase the personal data of customer {customer.id} ({customer.name})?", abort=True)
    try:
        counts = erase(None, customer, reason, utc_now())
    except DomainError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(f"erased customer {customer_id}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@crm_cli.command("export-customer")
@click.argument("customer_id", type=click.IntRange(min=1))
def export_customer(customer_id):
    """Print everything held about one customer as JSON (an access request); the read is audited."""
    from crm.privacy.services import export_customer_data

    customer = _customer(customer_id)
    now = utc_now()
    document = export_customer_data(None, customer, now, via="cli")
    db.session.commit()
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))
