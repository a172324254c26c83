"""Admin pages: staff accounts, teams, the moment-of-truth catalog, calendars and compensation policies."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.admin.forms import (
    LANE_LABELS,
    CalendarForm,
    GoodwillForm,
    MomentTypeForm,
    PolicyForm,
    TeamForm,
    UserForm,
)
from crm.admin.hours import country_name, hours_summary, regions_of, time_zones, with_day_names
from crm.auth import services as staff
from crm.calendars import services as calendar_service
from crm.compensations import services as compensations
from crm.customers.lifecycle import TIERS
from crm.domain import DomainError
from crm.extensions import db
from crm.labels import label
from crm.moments import catalog
from crm.types import utc_now
from crm.web import apply_errors, page_arg, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@role_required("admin")
def require_admin():
    """Every admin page needs an admin; checked once for the whole blueprint."""


@bp.get("")
def index():
    return render_template("admin/index.html")


def _save(form, save, success: str, target: str, template: str, **context):
    """The shared POST flow: validate, call the service, commit or show the errors."""
    if form.validate_on_submit():
        try:
            save()
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, with_day_names(exc, form))
        else:
            db.session.commit()
            flash(success, "success")
            return redirect(url_for(target))
    status = 400 if request.method == "POST" else 200
    return render_template(template, form=form, **context), status


# --- users ---------------------------------------------------------------------

@bp.get("/users")
def users():
    return render_template("admin/users.html", page=staff.list_users(page_arg()))


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = UserForm(teams=staff.list_teams())
    return _save(form, lambda: staff.create_user(current_user, form.to_data(), utc_now()),
                 _("User created."), "admin.users", "admin/user_form.html", user=None)


@bp.route("/users/<id:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    user = staff.get_user(user_id)
    form = UserForm(obj=user, teams=staff.list_teams(), creating=False)
    if request.method == "GET":
        form.team_id.data = user.team_id or 0
    return _save(form, lambda: staff.update_user(current_user, user, form.to_data(), utc_now()),
                 _("User saved."), "admin.users", "admin/user_form.html", user=user)


# --- teams ---------------------------------------------------------------------

@bp.get("/teams")
def teams():
    return render_template("admin/teams.html", teams=staff.list_teams())


@bp.route("/teams/new", methods=["GET", "POST"], defaults={"team_id": None})
@bp.route("/teams/<id:team_id>", methods=["GET", "POST"])
def edit_team(team_id: int | None):
    team = staff.get_team(team_id) if team_id else None
    form = TeamForm(obj=team)
    return _save(form, lambda: staff.save_team(current_user, team, form.data, utc_now()),
                 _("Team saved."), "admin.teams", "admin/team_form.html", team=team)


# --- moment types ----------------------------------------------------------------

@bp.get("/moment-types")
def moment_types():
    return render_template("admin/moment_types.html",
                           moment_types=catalog.list_moment_types(include_inactive=True))


@bp.route("/moment-types/new", methods=["GET", "POST"], defaults={"type_id": None})
@bp.route("/moment-types/<id:type_id>", methods=["GET", "POST"])
def edit_moment_type(type_id: int | None):
    moment_type = catalog.get_moment_type(type_id) if type_id else None
    # warn_share is the stored ratio as a percentage: passed in, since the model has no such attribute
    form = MomentTypeForm(obj=moment_type, teams=staff.list_teams(), calendars=calendar_service.list_calendars(),
                          **({"warn_share": round(moment_type.warn_ratio * 100)} if moment_type else {}))
    if request.method == "GET" and moment_type is not None:
        form.team_id.data = moment_type.team_id or 0
        form.participants.data = MomentTypeForm.participants_text(moment_type.participants or [])
        form.internal_process.data = moment_type.process
    levels = {tier: {"first": request.form.get(f"sl-{tier}-first", ""),
                     "resolution": request.form.get(f"sl-{tier}-resolution", "")} for tier in TIERS}
    if request.method == "GET" and moment_type is not None:
        for level in moment_type.service_levels:
            levels[level.tier] = {"first": level.first_response_hours or "",
                                  "resolution": level.resolution_hours or ""}
    return _save(form, lambda: catalog.save_moment_type(current_user, moment_type, form.to_data(request.form),
                                                        utc_now()),
                 _("Moment type saved."), "admin.moment_types", "admin/moment_type_form.html",
                 moment_type=moment_type, levels=levels, tiers=TIERS, lanes=LANE_LABELS)


# --- business calendars -------------------------------------------------------------

@bp.get("/calendars")
def calendars():
    found = calendar_service.list_calendars()
    return render_template("admin/calendars.html", calendars=found, country_name=country_name,
                           summaries={c.id: hours_summary(c.hours or {}) for c in found})


@bp.route("/calendars/new", methods=["GET", "POST"], defaults={"calendar_id": None})
@bp.route("/calendars/<id:calendar_id>", methods=["GET", "POST"])
def edit_calendar(calendar_id: int | None):
    calendar = calendar_service.get_calendar(calendar_id) if calendar_id else None
    new = {"timezone": current_app.config["BABEL_DEFAULT_TIMEZONE"],
           "hours": {str(day): [["09:00", "14:00"], ["16:00", "19:00"]] for day in range(5)}}
    form = CalendarForm(obj=calendar, **({} if calendar else new))
    return _save(form, lambda: calendar_service.save_calendar(current_user, calendar, form.to_data(), utc_now()),
                 _("Calendar saved."), "admin.calendars", "admin/calendar_form.html",
                 calendar=calendar, time_zones=time_zones(), regions=regions_of(form.country.data))


# --- compensation policies and goodwill limits -----------------------------------------

GOODWILL_ROLES = ("agent", "supervisor")


@bp.route("/compensation-policies", methods=["GET", "POST"])
def compensation_policies():
    """The policies, and one small form per role for what it may grant on the spot."""
    forms = {role: GoodwillForm(prefix=f"goodwill-{role}") for role in GOODWILL_ROLES}
    for role, form in forms.items():
        if form.submit_ok():
            try:
                compensations.set_goodwill_limit(current_user, role, form.max_value.data, utc_now())
            except DomainError as exc:
                db.session.rollback()
                apply_errors(form, exc)
            else:
                db.session.commit()
                flash(_("Goodwill limit saved for %(role)s.", role=label("role", role)), "success")
                return redirect(url_for("admin.compensation_policies"))
        if not form.max_value.raw_data:  # not the form that was sent: show what is stored
            form.max_value.data = compensations.goodwill_limit(role)
    status = 400 if request.method == "POST" else 200
    return render_template("admin/policies.html", policies=compensations.list_policies(), goodwill=forms), status


@bp.route("/compensation-policies/new", methods=["GET", "POST"], defaults={"policy_id": None})
@bp.route("/compensation-policies/<id:policy_id>", methods=["GET", "POST"])
def edit_policy(policy_id: int | None):
    policy = compensations.get_policy(policy_id) if policy_id else None
    form = PolicyForm(obj=policy, moment_types=catalog.list_moment_types(include_inactive=True))
    return _save(form, lambda: compensations.save_policy(current_user, policy, form.to_data(), utc_now()),
                 _("Compensation policy saved."), "admin.compensation_policies", "admin/policy_form.html",
                 policy=policy)
