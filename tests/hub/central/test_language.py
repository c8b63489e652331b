"""The central's refusals arrive in the language of the hub's users (Accept-Language),
not in the central's own; the central's other pages keep its language."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.central import fleet
from hub.sync_registry import registry
from sync import hubside
from sync.client import SyncRefused, accept_language
from tests.factories import make_world
from tests.hub.central.conftest import Central, HubSide
from tests.hub.central.test_end_to_end import _token

REVOKED = {"en": "This hub's key was revoked",
           "fr_CA": "La clé de ce boîtier a été révoquée"}


def test_refusals_come_in_the_hubs_language(central: Central, hub_side: HubSide) -> None:
    assert central.app.extensions["ardoise.settings"].language == "fr_CA"
    world = make_world(central.app, n_students=1)
    token = _token(central, world)
    hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, token, language="en")
    for language, words in (("en", "already used"), ("fr_CA", "a déjà servi")):
        with pytest.raises(SyncRefused) as err:  # the same token a second time
            hubside.enroll(hub_side.engine, hub_side.data_dir, central.url, token,
                           language=language)
        assert words in err.value.reason
    hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir, language="en")
    with central.sessions() as s:
        fleet.revoke_hub(s, s.scalars(select(fleet.CentralHub)).one().id)
        s.commit()
    for language, words in REVOKED.items():
        with pytest.raises(SyncRefused) as err:
            hubside.sync_now(hub_side.engine, registry(), hub_side.data_dir,
                             language=language)
        assert err.value.remote_code == "revoked" and words in err.value.reason
        # the hub keeps the whole message in that language for its pages
        last = hubside.status(hub_side.engine)["last_error"]
        assert words in last
        assert last.startswith("The central refused" if language == "en"
                               else "Le serveur central")


def test_only_sync_requests_choose_their_language(central: Central) -> None:
    client = central.app.test_client()
    page = client.post("/api/v1/sync/round", data=b"x", headers={"Accept-Language": "en"})
    assert page.status_code == 400 and "not signed" in page.get_json()["error"]["message"]
    other = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en"})
    assert other.status_code == 404
    assert other.get_json()["error"]["message"] != "This page does not exist."  # French


def test_accept_language_header() -> None:
    assert accept_language("fr_CA") == "fr-CA" and accept_language("en") == "en"
