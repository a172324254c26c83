"""Admin pages: staff accounts, teams, and the moment-of-truth catalog."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.admin.forms import LANE_LABELS, MomentTypeForm, TeamForm, UserForm
from crm.auth import services as staff
from crm.auth.models import Team
from crm.customers.lifecycle import TIERS
from crm.domain import N_, DomainError, NotFound
from crm.extensions import db
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
            apply_errors(form, exc)
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
    team = db.session.get(Team, team_id) if team_id else None
    if team_id and team is None:
        raise NotFound(N_("no such team"))
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
    form = MomentTypeForm(obj=moment_type, teams=staff.list_teams())
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
