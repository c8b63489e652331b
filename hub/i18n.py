"""Language of each request: the one chosen on the page, else the user's, else the hub's."""

from __future__ import annotations

from flask import Flask, current_app, g, session
from flask_babel import Babel, get_locale

from ardoise.i18n import LANGUAGES, TRANSLATIONS_DIR


def select_locale() -> str:
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


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone,
          default_translation_directories=str(TRANSLATIONS_DIR))
    app.jinja_env.globals.update(current_lang=current_lang, current_lang_tag=current_lang_tag)
