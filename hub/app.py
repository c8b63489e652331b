"""The app factory: settings in, a configured Flask app out. No global app."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from flask import Flask, Request, current_app
from flask_wtf.csrf import CSRFProtect

from ardoise import __version__
from ardoise.settings import Settings, load_settings, read_or_create_secret
from hub import access, central, db, errors, i18n, session_auth, sync_registry, templating
from hub.api import api
from hub.views import register_views

MB = 1024 * 1024


class HubRequest(Request):
    """Uploads over 500 KB are spooled into data_dir/staging, not the system temp folder:
    on the Pi /tmp is in RAM, and 30 tablets handing in photos at once would fill it."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None
                         ) -> IO[bytes]:
        staging = Path(current_app.extensions["ardoise.settings"].data_dir) / "staging"
        return tempfile.SpooledTemporaryFile(max_size=500 * 1024, dir=staging)  # type: ignore[return-value]


def create_app(config: Mapping[str, Any] | None = None, *,
               config_file: Path | str | None = None,
               settings: Settings | None = None) -> Flask:
    """Build the app.

    `config` mixes Ardoise settings (lowercase names, see `ardoise config list`) and Flask
    keys (UPPERCASE, e.g. TESTING). Settings come from the file, then ARDOISE_* variables,
    then `config`.
    """
    config = dict(config or {})
    flask_keys = {k: config.pop(k) for k in list(config) if k.isupper()}
    if settings is None:
        settings = load_settings(config_file, overrides=config,
                                 read_default_file=not flask_keys.get("TESTING", False))

    app = Flask(__name__)
    data_dir = Path(settings.data_dir)
    (data_dir / "staging").mkdir(parents=True, exist_ok=True)
    app.request_class = HubRequest
    app.config.update(
        SECRET_KEY=settings.secret_key or read_or_create_secret(data_dir / "secret_key"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="ardoise_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
        # The sign-in lasts session_hours from sign-in, not from the last request: no
        # re-signed cookie on every answer (docs/decisions.md, "Session lifetime").
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_CONTENT_LENGTH=(settings.upload_max_mb * settings.upload_max_files + 1) * MB,
        WTF_CSRF_TIME_LIMIT=settings.session_hours * 3600,
        JSON_SORT_KEYS=False,
    )
    app.config.update(flask_keys)
    app.extensions["ardoise.settings"] = settings
    app.extensions["ardoise.started"] = time.monotonic()
    app.extensions["ardoise.version"] = __version__

    database = db.init_app(app, settings.database_url_resolved)
    sync_registry.install_capture(database.sessions)  # every change of synced rows stamped
    CSRFProtect(app)
    central.init_app(app)
    i18n.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    app.before_request(session_auth.load_user)
    app.before_request(access.enforce)
    app.register_blueprint(api.blueprint)
    register_views(app)
    return app
