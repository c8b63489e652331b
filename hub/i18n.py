"""Language of each request: the one chosen on the page, else the user's, else the hub's."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from flask import Flask, current_app, g, session
from flask_babel import Babel, format_datetime, get_locale, get_timezone, get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from ardoise.i18n import LANGUAGES, TRANSLATIONS_DIR


def select_locale() -> str:
    asked = g.get("ardoise_language")  # set for machines asking (a hub's sync requests)
    if asked in LANGUAGES:
        return str(asked)
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    user = g.get("user")
    if user is not None and user.language in LANGUAGES:
        return user.language
    return current_app.extensions["ardoise.settings"].language


def select_timezone() -> str:
    return current_app.extensions["ardoise.settings"].timezone


def current_lang() -> str:
    """'fr_CA' or 'en', for templates."""
    return str(get_locale() or "fr_CA")


def current_lang_tag() -> str:
    """BCP 47 tag for <html lang>: fr-CA or en."""
    return current_lang().replace("_", "-")


def _translations() -> Any:
    """The request's catalogue, found once: Flask-Babel's template callables look it up
    again for each string (19 on a student's home page, a fifth of its time)."""
    found = g.get("ardoise_translations")
    if found is None:
        found = g.ardoise_translations = get_translations()
    return found


@functools.lru_cache(maxsize=512)
def _datetime_text(value: dt.datetime, format: str | None, _locale: Any, _tz: Any) -> str:
    # The key holds what the text depends on: Flask-Babel reads the same locale and
    # time zone from the request.
    return format_datetime(value, format)


def datetimeformat(value: dt.datetime | None = None, format: str | None = None) -> str:
    """Flask-Babel's `datetimeformat` filter, remembered: the due dates of a class are the
    same on thirty tablets, and writing one out took Babel a tenth of the student's page."""
    if value is None:
        return format_datetime(None, format)  # now: never the same twice
    return _datetime_text(value, format, get_locale(), get_timezone())


@pass_context
def template_gettext(context: Context, string: str, **variables: Any) -> str:
    """`_()` in templates, as Jinja's "newstyle" gettext does it (escaped, `%(name)s`
    filled in) minus its two extra layers of calls: a student's home page has 19."""
    text = _translations().ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    return text % variables if variables or "%" in text else text


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone,
          default_translation_directories=str(TRANSLATIONS_DIR))
    app.jinja_env.filters["datetimeformat"] = datetimeformat
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True)
    app.jinja_env.globals["_"] = template_gettext
    app.jinja_env.globals.update(current_lang=current_lang, current_lang_tag=current_lang_tag)
