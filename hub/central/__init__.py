"""The central role: enrolled hubs, the sync endpoints, the service centre's pages.

`init_app` registers the pages and exempts the signed sync endpoints from CSRF (a hub
has no cookie; each of its requests is signed instead).
"""

from __future__ import annotations

from flask import Flask

from hub.central import pages


def init_app(app: Flask) -> None:
    app.register_blueprint(pages.bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt("hub.central.api.sync_round")
        csrf.exempt("hub.central.api.sync_enroll")
        csrf.exempt("hub.central.api.sync_blobs_held")
        csrf.exempt("hub.central.api.sync_blob_chunk")
        csrf.exempt("hub.central.api.sync_blob_read")


__all__ = ["init_app"]
