"""The RFC 8908 captive-portal API: the address DHCP option 114 points tablets to."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app

from hardware.captive import CAPTIVE_JSON, captive_api
from hub import access
from hub.api.registry import api


@api.route("/captive-portal", roles=access.PUBLIC, tags=("device",),
           summary="RFC 8908 captive-portal state (application/captive+json).",
           response_schema={"type": "object", "required": ["captive"],
                            "properties": {"captive": {"type": "boolean"},
                                           "user-portal-url": {"type": "string"},
                                           "venue-info-url": {"type": "string"}}})
def captive_portal() -> Any:
    settings = current_app.extensions["ardoise.settings"]
    body = captive_api(bool(settings.captive_portal), str(settings.hub_url))
    resp = Response(json.dumps(body), content_type=CAPTIVE_JSON)
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
