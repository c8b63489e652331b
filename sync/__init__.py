"""The sync engine (change capture, version vectors, frames, transport, USB bundles).

Not built yet: the rows it will move already carry their sync columns
(`ardoise.db.Synced`). Never imports Flask.
"""

__all__: list[str] = []
