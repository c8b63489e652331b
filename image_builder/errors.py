"""Errors of the image pipeline, in the project's one hierarchy."""

from __future__ import annotations

from collections.abc import Sequence

from ardoise.errors import ArdoiseError, Invalid, SettingsError
from ardoise.i18n import N_, cli_locale, translate
from image_builder.schema import Problem, render_problems


class ConfigInvalid(SettingsError):
    """A settings file with one or more problems; renders all of them, each with its key."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(N_("%(file)s has %(count)s problem(s):"), file=file,
                         count=len(self.problems))

    def render(self, locale: str | None = None) -> str:
        locale = locale or cli_locale()
        head = translate(self.message, locale, **self.params)
        return head + "\n" + render_problems(self.problems, locale)


class PrerequisiteMissing(Invalid):
    code = "prerequisite_missing"


class BuildFailed(ArdoiseError, RuntimeError):
    code = "build_failed"


__all__ = ["BuildFailed", "ConfigInvalid", "PrerequisiteMissing"]
