"""Sign-in pages: the class picker for students, the password form for adults, sign-out."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for

from hub import access, session_auth

bp = Blueprint("auth", __name__)


@bp.get("/signin")
@access.public
def start() -> Any:
    return render_template("auth/start.html")


@bp.post("/signout")
@access.public
def sign_out() -> Any:
    session_auth.sign_out()
    return redirect(url_for("auth.start"))
