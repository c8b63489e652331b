"""The central role: enrolled hubs, the sync endpoints, the service centre's pages.

`init_app` registers the pages and exempts the signed sync endpoints from CSRF (a hub
has no cookie; each of its requests is signed instead). A hub has no session either, so
the sync endpoints answer in the language its request asks for (Accept-Language: the
language of the hub's users), not in the central's: its refusals are shown on the hub.
"""

from __future__ import annotations

from flask import Flask, g, request

from ardoise.i18n import LANGUAGES
from hub.central import pages

SYNC_ENDPOINTS = ("sync_round", "sync_enroll", "sync_hello", "sync_blobs_held",
                  "sync_blob_chunk", "sync_blob_read")


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    app.before_request(answer_in_the_hubs_language)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        for name in SYNC_ENDPOINTS:
            csrf.exempt(f"hub.central.api.{name}")


def answer_in_the_hubs_language() -> None:
    """before_request: a sync request's answers (errors) in the language it asks for."""
    if request.endpoint not in {f"api.{name}" for name in SYNC_ENDPOINTS}:
        return
    tags = {lang.replace("_", "-"): lang for lang in LANGUAGES}
    best = request.accept_languages.best_match([*tags, "fr"])
    if best is not None:
        g.ardoise_language = tags.get(best, "fr_CA")


__all__ = ["init_app"]
