"""Every user-data model is declared to the sync engine, with a scope it really has."""

from __future__ import annotations

from hub.sync_registry import registry, synced_tables_of_models


def test_every_synced_model_is_declared() -> None:
    assert synced_tables_of_models() == set(registry().rules)


def test_parents_come_before_children() -> None:
    order = [r.name for r in registry()]
    for rule in registry():
        for fk in rule.table.foreign_keys:
            parent = fk.column.table.name
            if parent in registry().rules and parent != rule.name:
                assert order.index(parent) < order.index(rule.name), (parent, rule.name)
