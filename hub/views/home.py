"""The home page (each role lands somewhere useful) and the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from ardoise.i18n import LANGUAGES
from hub import access

bp = Blueprint("home", __name__)


@bp.get("/")
@access.public
def index() -> Any:
    if g.user is None:
        return render_template("home.html")
    return render_template("home.html")


@bp.get("/lang/<code>")
@access.public
def set_language(code: str) -> Any:
    if code in LANGUAGES:
        session["lang"] = code
    target = request.args.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("home.index")
    return redirect(target)
