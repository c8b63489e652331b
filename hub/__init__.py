"""The Flask app: pages for students, teachers and technicians, and the JSON API.

The hub wires the other packages together; it is the only one that imports Flask.

`create_app` is imported on first use (PEP 562): the `ardoise` command's entry point is
`hub.cli:main`, and `ardoise agent` must start without loading Flask.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hub.app import create_app

        return create_app
    raise AttributeError(f"module 'hub' has no attribute {name!r}")
