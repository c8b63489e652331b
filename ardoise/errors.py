"""One error hierarchy for every package.

Each error carries an English message id with named parameters (translated at the edge),
an HTTP status and a stable machine code, so the web app, the JSON API and the CLI all
report the same thing in the user's language. Leaves are also builtins, as gpiozero does,
so callers can catch `ValueError` or `LookupError` where that reads better.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ArdoiseError(Exception):
    """Root of every error Ardoise raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, hint: str | None = None, **params: Any) -> None:
        self.message = message
        self.hint = hint
        self.params = params
        super().__init__(self.render("en"))

    def render(self, locale: str | None = None) -> str:
        """The message (and hint) in `locale`, parameters filled in."""
        from ardoise.i18n import translate

        text = translate(self.message, locale, **self.params)
        if self.hint:
            text = f"{text} {translate(self.hint, locale, **self.params)}"
        return text

    def details(self) -> dict[str, Any]:
        """Parameters safe to show to API clients (strings and numbers only)."""
        return {k: v for k, v in self.params.items() if isinstance(v, (str, int, float))}


class Invalid(ArdoiseError, ValueError):
    status = 400
    code = "invalid"


class SettingsError(Invalid):
    code = "invalid_settings"


class Unauthorized(ArdoiseError, PermissionError):
    status = 401
    code = "unauthorized"


class Forbidden(ArdoiseError, PermissionError):
    status = 403
    code = "forbidden"


class NotFound(ArdoiseError, LookupError):
    status = 404
    code = "not_found"


class Conflict(ArdoiseError, RuntimeError):
    status = 409
    code = "conflict"


class TooLarge(Invalid):
    status = 413
    code = "too_large"


class UnsupportedType(Invalid):
    status = 415
    code = "unsupported_type"


class RateLimited(ArdoiseError, RuntimeError):
    status = 429
    code = "rate_limited"


class StorageFull(ArdoiseError, OSError):
    status = 507
    code = "storage_full"
