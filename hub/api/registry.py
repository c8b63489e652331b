"""Registry of API operations: one decorator declares the route, its roles and its docs."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, request

from ardoise.errors import Invalid
from ardoise.i18n import N_
from hub import access
from hub.models import Role


@dataclass
class Operation:
    rule: str
    method: str
    endpoint: str
    summary: str
    roles: frozenset[Role] | str
    request_schema: dict[str, Any] | None = None
    response_schema: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()
    parameters: list[dict[str, Any]] = field(default_factory=list)


class Api:
    def __init__(self) -> None:
        self.blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
        self.operations: list[Operation] = []

    def route(self, rule: str, *, methods: tuple[str, ...] = ("GET",),
              roles: tuple[Role, ...] | str, summary: str,
              request_schema: dict[str, Any] | None = None,
              response_schema: dict[str, Any] | None = None,
              tags: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Declare an operation. `roles` is a tuple of roles, access.PUBLIC or
        access.SIGNED_IN."""
        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            if roles in (access.PUBLIC, access.SIGNED_IN):
                setattr(view, access.ATTR, roles)
                policy: frozenset[Role] | str = roles  # type: ignore[assignment]
            else:
                policy = frozenset(roles)
                setattr(view, access.ATTR, policy)
            self.blueprint.add_url_rule(rule, view.__name__, view, methods=list(methods))
            for method in methods:
                self.operations.append(Operation(
                    rule=rule, method=method.lower(), endpoint=f"api.{view.__name__}",
                    summary=summary, roles=policy, request_schema=request_schema,
                    response_schema=response_schema, tags=tags))
            return view
        return decorate


def openapi_path(rule: str) -> str:
    """Flask rule to OpenAPI path: /a/<uuid:id> -> /a/{id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def json_body() -> dict[str, Any]:
    """The request's JSON object, or Invalid (400) saying what is wrong with it."""
    data = request.get_json(silent=True)
    if data is None:
        raise Invalid(N_("The request body must be a JSON object (Content-Type: "
                         "application/json)."))
    if not isinstance(data, dict):
        raise Invalid(N_("The request body must be a JSON object, not a list or a value."))
    return data


api = Api()
