"""Translation of messages outside a web request (CLI, errors raised by libraries).

Library code marks user-facing text with `N_()` and raises errors carrying the English
message id and its parameters; the edge (a web view or a CLI command) translates it into
the user's language with the one set of catalogues kept in `ardoise/translations`.

Babel is loaded on the first translation, not on import: every process imports this module
(through `N_`), and the long-running device agent should not carry Babel for messages it
rarely shows (docs/decisions.md, "The device agent stays small").
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from babel.support import NullTranslations

TRANSLATIONS_DIR = Path(__file__).with_name("translations")
LANGUAGES = ("fr_CA", "en")
DEFAULT_LANGUAGE = "fr_CA"


def N_(message: str) -> str:
    """Mark a message for extraction without translating it now."""
    return message


@functools.lru_cache(maxsize=8)
def translations(locale: str) -> NullTranslations:
    """Load the catalogue for a locale (fr_CA falls back to fr), or pass-through for English."""
    from babel.support import Translations

    return Translations.load(str(TRANSLATIONS_DIR), [locale, locale.split("_")[0]])


def cli_locale() -> str:
    """Language for command-line messages: ARDOISE_LANGUAGE, else LANG, else French."""
    for var in ("ARDOISE_LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return "en" if value.startswith("en") else "fr_CA"
    return DEFAULT_LANGUAGE


def translate(message: str, locale: str | None = None, **params: object) -> str:
    """Translate a message id into `locale` and fill its %(name)s parameters."""
    text = translations(locale or cli_locale()).gettext(message)
    return text % params if params else text
