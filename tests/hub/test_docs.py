"""Docs kept honest: the reference pages match the code, and every translation exists."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from hub.cli import main
from hub.docs import commands_markdown, settings_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_settings_reference_is_current() -> None:
    assert (ROOT / "docs/settings.md").read_text(encoding="utf-8") == settings_markdown(), (
        "docs/settings.md is out of date: run script/docs")


def test_commands_reference_is_current() -> None:
    assert (ROOT / "docs/commands.md").read_text(encoding="utf-8") == commands_markdown(main), (
        "docs/commands.md is out of date: run script/docs")


def test_every_message_has_a_french_translation() -> None:
    with open(ROOT / "ardoise/translations/fr/LC_MESSAGES/messages.po", "rb") as fh:
        catalog = read_po(fh, locale="fr")
    missing = [m.id for m in catalog if m.id and (not m.string or "fuzzy" in m.flags)]
    assert missing == [], "untranslated (script/i18n then script/po set): " + repr(missing[:10])
