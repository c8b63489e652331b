"""The signed-in user of a request, kept in the signed session cookie.

The cookie holds the user id and the user's `auth_epoch`; bumping the epoch (password
reset, "sign out everywhere", deactivation) invalidates every older cookie at once.
"""

from __future__ import annotations

import functools
import uuid

from flask import g, session
from sqlalchemy import Select, Uuid, bindparam, select

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


@functools.cache
def _user_by_id() -> Select[tuple[User]]:
    """Built once: each request's lookup then skips building the query (and the identity
    map, useless in a session that lives one request)."""
    return select(User).where(User.id == bindparam("uid", type_=Uuid()))


def load_user() -> None:
    """before_request hook: put the signed-in user (or None) in `g.user`."""
    g.user = None
    uid = session.get("uid")
    if not uid:
        return
    try:
        user = db.session().scalars(_user_by_id(), {"uid": uuid.UUID(uid)}).first()
    except ValueError:
        user = None
    if user is None or not user.active or user.deleted or user.auth_epoch != session.get("epoch"):
        session.pop("uid", None)
        return
    g.user = user
