"""Pages of crm.privacy."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
