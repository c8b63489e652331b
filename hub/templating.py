"""What templates call on every page, made cheap: links and CSRF tokens.

A student's home page asks Flask for ten links (the style sheet, the menu, one per
assignment), each a walk through the URL map, and signs a fresh CSRF token for its
sign-out form: together a tenth of the page's time, for text that rarely changes.
- `url_for` in templates remembers plain links, keyed by everything such a link depends on
  (the application's mount point, the endpoint and its values). Links that depend on more
  (a host, a scheme, an anchor, a method, an endpoint relative to the current blueprint)
  are built as usual.
- `csrf_token` in templates gives the token Flask-WTF signed for the same session within
  the same minute: a page's token is then at most a minute older than the page, out of
  the 12 hours it stays valid, and it belongs to that session only, as before.
Both are kept per app (`app.extensions`), up to a bound: past it, links are built as usual
and the tokens start afresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request, session, url_for
from flask_wtf.csrf import generate_csrf

TOKEN_REUSE_SECONDS = 60
LINKS_KEPT = 2048  # the links of a hub's pages; more (language links of every page) are built
TOKENS_KEPT = 1024  # sessions signed in within the same minute, with room to spare
clock: Callable[[], float] = time.time  # tests move time forward instead of sleeping


def template_url_for(endpoint: str, **values: Any) -> str:
    """Flask's `url_for`, remembered for plain links (see the module docstring)."""
    if endpoint.startswith(".") or any(key.startswith("_") for key in values):
        return url_for(endpoint, **values)
    links: dict[Any, str] = current_app.extensions["ardoise.links"]
    key = (request.script_root, endpoint, *values.items())
    try:
        return links[key]
    except KeyError:
        pass
    except TypeError:  # a value that cannot be a key (a list): built as usual
        return url_for(endpoint, **values)
    link = url_for(endpoint, **values)
    if len(links) < LINKS_KEPT:
        links[key] = link
    return link


def template_csrf_token() -> str:
    """Flask-WTF's `csrf_token()`, signed at most once a minute per session."""
    session_secret = session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    if not session_secret:
        return generate_csrf()  # the session's first token: Flask-WTF stores its secret
    tokens: dict[str, tuple[int, str]] = current_app.extensions["ardoise.csrf_tokens"]
    period = int(clock() // TOKEN_REUSE_SECONDS)
    kept = tokens.get(session_secret)
    if kept is not None and kept[0] == period:
        return kept[1]
    token = generate_csrf()
    if len(tokens) >= TOKENS_KEPT:
        tokens.clear()
    tokens[session_secret] = (period, token)
    return token


def init_app(app: Flask) -> None:
    """After CSRFProtect, whose template global and context processor these replace."""
    app.extensions["ardoise.links"] = {}
    app.extensions["ardoise.csrf_tokens"] = {}
    app.jinja_env.globals["url_for"] = template_url_for
    app.jinja_env.globals["csrf_token"] = template_csrf_token
    app.context_processor(lambda: {"csrf_token": template_csrf_token})
