"""The Flask app: pages for students, teachers and technicians, and the JSON API.

The hub wires the other packages together; it is the only one that imports Flask.
"""

from hub.app import create_app

__all__ = ["create_app"]
