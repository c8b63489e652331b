"""Server-rendered pages. Each module owns one area and its blueprint."""

from __future__ import annotations

from flask import Flask

from hub.views import auth, home


def register_views(app: Flask) -> None:
    app.register_blueprint(home.bp)
    app.register_blueprint(auth.bp)
