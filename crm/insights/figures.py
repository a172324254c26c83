"""What each figure is called, and how the pages group and show them: one list for the
metrics page, the dashboard and the weekly report."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

# (heading, [(label, figure, how it is shown)]): how a figure is shown decides its format.
SECTIONS = (
    (_l("Surveys"), (
        (_l("NPS"), "nps", "points"),
        (_l("NPS answers"), "nps_answers", "count"),
        (_l("CSAT: satisfied customers"), "csat", "percent"),
        (_l("CSAT answers"), "csat_answers", "count"),
        (_l("CES: average effort (1 to 7)"), "ces", "decimal"),
        (_l("CES answers"), "ces_answers", "count"),
    )),
    (_l("Resolution"), (
        (_l("Incidents resolved"), "incidents_resolved", "count"),
        (_l("Resolved on the first contact (FCR)"), "fcr_first", "percent"),
        (_l("Resolved by the second contact"), "fcr_second", "percent"),
    )),
    (_l("Service levels"), (
        (_l("First responses on time"), "sla_first_response", "percent"),
        (_l("Resolutions on time"), "sla_resolution", "percent"),
        (_l("Commitments broken"), "breaches", "count"),
    )),
    (_l("Cost and revenue"), (
        (_l("Contacts"), "contacts", "count"),
        (_l("Cost of the contacts"), "contact_cost", "money"),
        (_l("Compensations issued"), "compensations_issued", "count"),
        (_l("Value of the compensations issued"), "compensations_value", "money"),
        (_l("Cost of the compensations issued"), "compensations_cost", "money"),
        (_l("Cost to serve"), "cost_to_serve", "money"),
        (_l("Revenue"), "revenue", "money"),
    )),
    (_l("Customers"), (
        (_l("Customers at the start"), "customers_at_start", "count"),
        (_l("Customers lost"), "customers_lost", "count"),
        (_l("Churn rate"), "churn_rate", "percent"),
        (_l("Retention of the last twelve months' signups"), "retention", "percent"),
    )),
)

# Each figure's name, from the list above.
FIGURE_LABELS = {figure: name for _, rows in SECTIONS for name, figure, _ in rows}
