"""Content packs: manifest, verification, install into the data folder, catalogue.

Never imports Flask: the web app, the agent, the CLI and the central all use it.
"""

from content_packs.catalog import InstalledPack, Resource, ResourceFile

__all__ = ["InstalledPack", "Resource", "ResourceFile"]
