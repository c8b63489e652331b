"""Messages in French and English using only the standard library.

First boot runs on the Pi before anything else is configured (and in the tiny test image,
which carries no third-party packages), so it reads the project's one gettext catalogue
with `gettext` instead of Babel. The message ids are the same English strings the rest of
the project uses; `script/i18n` extracts them like any other.
"""

from __future__ import annotations

import functools
import gettext
import importlib.util
from pathlib import Path

LOCALES = ("fr_CA", "en")


def N_(message: str) -> str:
    """Mark a message for extraction without translating it now."""
    return message


def _catalogue_dir() -> Path:
    # find_spec does not import the package (whose __init__ needs Babel).
    spec = importlib.util.find_spec("ardoise")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "translations"
    return Path(__file__).resolve().parents[1] / "ardoise" / "translations"


@functools.lru_cache(maxsize=4)
def _translations(locale: str) -> gettext.NullTranslations:
    if locale.startswith("en"):
        return gettext.NullTranslations()
    return gettext.translation("messages", str(_catalogue_dir()),
                               languages=[locale, locale.split("_")[0]], fallback=True)


def translate(message: str, locale: str, **params: object) -> str:
    """`message` in `locale` with its %(name)s parameters filled in."""
    text = _translations(locale).gettext(message)
    return text % params if params else text


def bilingual(message: str, **params: object) -> str:
    """French, then English: what the first-boot log and the status sheet show."""
    fr = translate(message, "fr_CA", **params)
    en = translate(message, "en", **params)
    return fr if fr == en else f"{fr} / {en}"
