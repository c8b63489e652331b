"""Server-rendered pages. Each module owns one area and its blueprint."""

from __future__ import annotations

from flask import Flask

from hub.views import (
    admin,
    auth,
    captive,
    device,
    home,
    library,
    packs_admin,
    student,
    sync_pages,
    teacher,
)


def register_views(app: Flask) -> None:
    app.register_blueprint(home.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(captive.bp)
    app.register_blueprint(device.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(library.bp)
    app.register_blueprint(teacher.bp)
    app.register_blueprint(student.bp)
    app.register_blueprint(sync_pages.bp)
    app.register_blueprint(packs_admin.bp)
