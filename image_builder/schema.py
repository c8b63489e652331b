"""Reading a TOML settings file while collecting every problem at once.

Both files a technician edits (`build.toml` for the build, `ardoise.toml` on the card) are
read through a `Reader`: each accessor returns a value or a default and records a
`Problem` (key + English message id + parameters) instead of stopping at the first one, so
one pass lists everything that is wrong. Standard library only: first boot uses it too.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from image_builder.messages import N_, bilingual, translate

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one key."""

    key: str
    message: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, locale: str) -> str:
        return f"{self.key}: {translate(self.message, locale, **self.params)}"

    def render_bilingual(self) -> str:
        return f"{self.key}: {bilingual(self.message, **self.params)}"


def render_problems(problems: Sequence[Problem], locale: str) -> str:
    return "\n".join(f"  - {p.render(locale)}" for p in problems)


def _kind(value: object) -> str:
    return {bool: "true/false", int: "number", float: "number", str: "text", list: "list",
            dict: "table"}.get(type(value), type(value).__name__)


def load_toml(path: Path) -> tuple[dict[str, Any], list[Problem]]:
    """Parse a file; an unreadable or malformed one is a single problem keyed by its name."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), []
    except FileNotFoundError:
        return {}, [Problem(path.name, N_("The file does not exist: %(path)s."),
                            {"path": str(path)})]
    except UnicodeDecodeError:
        return {}, [Problem(path.name, N_("The file is not UTF-8 text: save it as UTF-8."))]
    except tomllib.TOMLDecodeError as exc:
        return {}, [Problem(path.name, N_("The file is not valid TOML (%(reason)s). Check "
                                          "quotes around text and the [section] lines."),
                            {"reason": str(exc)})]


_MISSING = object()


class Reader:
    """Typed access to a parsed TOML document that records problems instead of raising."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[Problem] = []
        self._known: dict[str, set[str]] = {}

    def add(self, key: str, message: str, **params: object) -> None:
        self.problems.append(Problem(key, message, params))

    # -- lookup
    def _get(self, key: str) -> Any:
        section, _, name = key.rpartition(".")
        self._known.setdefault(section, set()).add(name)
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return _MISSING
            node = node[part]
        return node

    def section(self, key: str) -> None:
        """Declare a [section]; a non-table value there is a problem."""
        value = self._get(key)
        if value is not _MISSING and not isinstance(value, Mapping):
            self.add(key, N_("Must be a section ([%(section)s]), not %(kind)s."),
                     section=key, kind=_kind(value))

    def _typed(self, key: str, default: T, required: bool, types: tuple[type, ...],
               kind_msg: str) -> Any:
        value = self._get(key)
        if value is _MISSING or (value == "" and str in types):
            if required:
                self.add(key, N_("Missing: this key is required."))
            return default
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            self.add(key, kind_msg, kind=_kind(value))
            return default
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False,
             pattern: str | None = None, pattern_help: str = "", max_len: int | None = None,
             min_len: int | None = None, choices: Sequence[str] = ()) -> str | None:
        value = self._typed(key, default, required, (str,), N_("Must be text in quotes, "
                                                               "not %(kind)s."))
        if value is None or value is default:
            return value
        if min_len is not None and len(value) < min_len:
            self.add(key, N_("Too short: at least %(min)s characters."), min=min_len)
            return default
        if max_len is not None and len(value) > max_len:
            self.add(key, N_("Too long: at most %(max)s characters."), max=max_len)
            return default
        if choices and value not in choices:
            self.add(key, N_("Must be one of %(choices)s, not %(value)s."),
                     choices=", ".join(choices), value=value)
            return default
        if pattern is not None and not re.fullmatch(pattern, value):
            self.add(key, pattern_help or N_("Has characters that are not allowed."),
                     value=value)
            return default
        return value

    def integer(self, key: str, default: int | None = None, *, required: bool = False,
                minimum: int | None = None, maximum: int | None = None) -> int | None:
        value = self._typed(key, default, required, (int,), N_("Must be a whole number "
                                                               "without quotes, not %(kind)s."))
        if value is None or value is default:
            return value
        if (minimum is not None and value < minimum) or (maximum is not None
                                                          and value > maximum):
            self.add(key, N_("Must be between %(minimum)s and %(maximum)s, not %(value)s."),
                     minimum=minimum, maximum=maximum, value=value)
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return bool(self._typed(key, default, False, (bool,),
                                N_("Must be true or false (without quotes), not %(kind)s.")))

    def text_list(self, key: str, check: Callable[[str], str | None] | None = None
                  ) -> list[str]:
        """A list of strings; `check` returns an English message id for a bad item."""
        value = self._get(key)
        if value is _MISSING:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(key, N_("Must be a list of texts in quotes, like [\"a\", \"b\"]."))
            return []
        good = []
        for i, item in enumerate(value, 1):
            msg = check(item) if check else None
            if msg:
                self.add(f"{key}[{i}]", msg)
            else:
                good.append(item)
        return good

    def reject_unknown(self, sections: Iterable[str]) -> None:
        """A misspelt key silently ignored is worse than an error: name it and the known ones."""
        for section in sections:
            node = self.data if not section else self.data.get(section)
            if not isinstance(node, Mapping):
                continue
            known = self._known.get(section, set())
            for name in node:
                if name not in known:
                    key = f"{section}.{name}" if section else name
                    self.add(key, N_("Unknown key (misspelt?). Known keys here: %(known)s."),
                             known=", ".join(sorted(known)) or "-")


__all__ = ["Problem", "Reader", "load_toml", "render_problems"]
