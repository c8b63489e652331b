"""Who may open what: every view declares its roles, and a request hook enforces them.

A view with no declaration is refused to everyone (secure by default), and the role
matrix test walks every route of the app with every role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from ardoise.errors import Forbidden, Unauthorized
from ardoise.i18n import N_
from hub.models import Role

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC = "public"
SIGNED_IN = "signed-in"
ATTR = "_ardoise_access"


def public(view: F) -> F:
    """Anyone, signed in or not, may open this view."""
    setattr(view, ATTR, PUBLIC)
    return view


def roles(*allowed: Role) -> Callable[[F], F]:
    """Only signed-in users with one of these roles may open the view."""
    def decorate(view: F) -> F:
        setattr(view, ATTR, frozenset(allowed))
        return view
    return decorate


def signed_in(view: F) -> F:
    """Any signed-in user may open this view."""
    setattr(view, ATTR, SIGNED_IN)
    return view


def policy_of(endpoint: str | None) -> object:
    if endpoint is None:
        return None
    if endpoint == "static":
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, ATTR, None)


def enforce() -> None:
    """before_request hook: raise Unauthorized/Forbidden unless the policy admits the user."""
    if request.endpoint is None:  # 404 / 405: let Flask answer
        return
    policy = policy_of(request.endpoint)
    if policy == PUBLIC:
        return
    if policy is None:
        raise Forbidden(N_("This page is not open to anyone."))
    user = g.get("user")
    if user is None:
        raise Unauthorized(N_("Please sign in first."))
    if policy == SIGNED_IN:
        return
    if user.role not in policy:  # type: ignore[operator]
        raise Forbidden(N_("Your account is not allowed to open this page."))
