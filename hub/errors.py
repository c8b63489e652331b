"""One JSON error shape for the API, and friendly pages for the same errors in the browser.

Shape: {"error": {"status": 404, "code": "not_found", "message": "...", "details": {}}}
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ardoise.errors import ArdoiseError, Unauthorized
from ardoise.i18n import N_, translate

# Flask/Werkzeug statuses we answer ourselves, with message ids we translate.
HTTP_MESSAGES = {
    400: ("bad_request", N_("The request could not be understood.")),
    404: ("not_found", N_("This page does not exist.")),
    405: ("method_not_allowed", N_("This action is not allowed here.")),
    413: ("too_large", N_("This file is too large.")),
    500: ("internal_error", N_("Something went wrong on the hub. Please try again.")),
}


def error_body(status: int, code: str, message: str, details: dict[str, Any] | None = None
               ) -> dict[str, Any]:
    return {"error": {"status": status, "code": code, "message": message,
                      "details": details or {}}}


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json")


def _locale() -> str:
    return str(get_locale() or "fr_CA")


def render_error(status: int, code: str, message: str, details: dict[str, Any] | None = None
                 ) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify(error_body(status, code, message, details)), status
    return render_template("error.html", status=status, message=message), status


def handle_ardoise_error(exc: ArdoiseError) -> Any:
    if isinstance(exc, Unauthorized) and not wants_json():
        return redirect(url_for("auth.start", next=request.full_path))
    return render_error(exc.status, exc.code, exc.render(_locale()), exc.details())


def handle_http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    code, message_id = HTTP_MESSAGES.get(status, (f"http_{status}", exc.name))
    details: dict[str, Any] = {}
    if status == 413:
        limit = current_app.extensions["ardoise.settings"].upload_max_mb
        message = translate(N_("This file is too large: the limit is %(limit)s MB."), _locale(),
                            limit=limit)
        return render_error(status, code, message, {"limit_mb": limit})
    return render_error(status, code, translate(message_id, _locale()), details)


def handle_csrf_error(exc: CSRFError) -> Any:
    message = translate(N_("This form has expired. Your text is below: copy it or send it "
                           "again."), _locale())
    if wants_json():
        return jsonify(error_body(400, "csrf_failed", translate(
            N_("Missing or expired CSRF token: send the X-CSRFToken header from "
               "/api/v1/session."), _locale()))), 400
    kept = {k: v for k, v in request.form.items() if k != "csrf_token" and v}
    return render_template("expired.html", message=message, kept=kept,
                           action=request.path), 400


def init_app(app: Flask) -> None:
    app.register_error_handler(ArdoiseError, handle_ardoise_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
