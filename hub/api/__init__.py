"""The JSON API under /api/v1: operations register here with their roles and their
description, which is also where the OpenAPI document comes from."""

from hub.api.registry import Api, api, json_body

__all__ = ["Api", "api", "json_body"]

# Importing the modules registers their operations on `api`.
from hub.api import auth, captive, classwork, library, people, status  # noqa: F401
from hub.central import api as central_api  # noqa: F401
