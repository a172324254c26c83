"""Messages to staff: a detractor answer reaches the supervisors, in their own language."""
from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from crm.auth.models import User
from crm.customers.models import Customer
from crm.followups.models import SurveyResponse
from crm.followups.render import build_message, public_url
from crm.i18n import in_language, supported_language


def detractor_alert_rows(customer: Customer, response: SurveyResponse, supervisors: list[User],
                         now: datetime) -> list[dict]:
    rows = []
    for supervisor in supervisors:
        language = supported_language(supervisor.locale)
        key = f"alert:detractor:{response.id}:{supervisor.id}"
        with in_language(language):
            subject = _("Unhappy customer: %(name)s answered %(score)d", name=customer.name, score=response.score)
            lines = [
                _("%(name)s answered the %(kind)s survey with %(score)d.", name=customer.name,
                  kind=response.kind.upper(), score=response.score),
                _("Comment: %(comment)s", comment=response.comment) if response.comment else "",
                _("The customer is now at risk. Their page: %(url)s",
                  url=public_url(f"/customers/{customer.id}")),
            ]
        body = "\n\n".join(line for line in lines if line)
        rendered = build_message(key=key, to_address=supervisor.email, to_name=supervisor.name, language=language,
                                 subject=subject, body=body, marketing=False, unsubscribe=None, survey=None)
        rows.append({
            "idempotency_key": key, "customer_id": customer.id, "user_id": supervisor.id,
            "moment_id": response.moment_id, "kind": "transactional", "survey": None,
            "to_address": supervisor.email, "language": language, "subject": subject,
            "message": rendered.message, "due_at": now, "status": "pending", "attempts": 0, "created_at": now,
        })
    return rows
