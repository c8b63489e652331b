"""The signed-in user of a request, kept in the signed session cookie.

The cookie holds the user id and the user's `auth_epoch`; bumping the epoch (password
reset, "sign out everywhere", deactivation) invalidates every older cookie at once.
"""

from __future__ import annotations

import uuid

from flask import g, session

from hub import db
from hub.models import User


def sign_in(user: User) -> None:
    """Start a fresh session for `user` (nothing of the previous one survives but the
    language chosen on this tablet)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.permanent = True
    session["uid"] = str(user.id)
    session["epoch"] = user.auth_epoch
    g.user = user


def sign_out() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    g.user = None


def load_user() -> None:
    """before_request hook: put the signed-in user (or None) in `g.user`."""
    g.user = None
    uid = session.get("uid")
    if not uid:
        return
    try:
        user = db.session().get(User, uuid.UUID(uid))
    except ValueError:
        user = None
    if user is None or not user.active or user.deleted or user.auth_epoch != session.get("epoch"):
        session.pop("uid", None)
        return
    g.user = user
