"""The sync engine: change capture, version vectors, merge, frames, transfers, bundles.

Works on any SQLAlchemy tables carrying the sync columns of `ardoise.db.Synced`; the
application says which tables sync, and how, by filling a `Registry`. Never imports
Flask nor the hub. Modules: `capture` (stamps in the writer's transaction), `changes`
(what the other side has not seen, purge), `merge`, `frames` (wire format), `transfer`
(exactly-once frames), `protocol` (a round), `client`/`hubside` (the hub's side),
`signing`, `bundle` (USB), `blobs` (student files), `photos` (smaller photos to send),
`agent` (the agent's task).
See docs/sync.md.
"""

from sync.agent import agent_tasks
from sync.capture import Capture, install
from sync.changes import adopt_unstamped, purge, unseen
from sync.hlc import ClockSkew
from sync.instance import Clock, local_instance
from sync.merge import MergeStats
from sync.registry import DeleteRule, Kind, Registry, TableRule
from sync.scope import EVERYTHING, Scope
from sync.transfer import Applied, OutOfScope, OutTransfer, SchemaMismatch, apply_frame, prepare

__all__ = [
    "EVERYTHING",
    "Applied",
    "Capture",
    "Clock",
    "ClockSkew",
    "DeleteRule",
    "Kind",
    "MergeStats",
    "OutOfScope",
    "OutTransfer",
    "Registry",
    "SchemaMismatch",
    "Scope",
    "TableRule",
    "adopt_unstamped",
    "agent_tasks",
    "apply_frame",
    "install",
    "local_instance",
    "prepare",
    "purge",
    "unseen",
]
