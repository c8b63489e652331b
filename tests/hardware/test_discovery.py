"""zeroconf announce and discover on 127.0.0.1 only; every Zeroconf instance is closed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from ardoise.settings import load_settings
from hardware.discovery import (
    Announcement,
    Announcer,
    build_announcement,
    discover,
    instance_name,
    interfaces_setting,
)
from hardware.identity import SchoolInfo, device_id, short_id

LOOPBACK = ["127.0.0.1"]


def _announcement(hub_id: str, *, role: str = "hub", school: str = "École du Littoral"
                  ) -> Announcement:
    settings = load_settings(env={}, read_default_file=False,
                             overrides={"role": role, "hub_url": "http://ardoise.lan:8080/"})
    return build_announcement(settings, hub_id, SchoolInfo("littoral", school), "0.1.0")


@pytest.fixture
def announcers() -> Iterator[list[Announcer]]:
    made: list[Announcer] = []
    yield made
    for a in made:
        a.close()


def _start(made: list[Announcer], ann: Announcement, query_ms: int = 300) -> Announcer:
    announcer = Announcer(ann, interfaces=LOOPBACK, addresses=LOOPBACK, query_ms=query_ms)
    made.append(announcer)
    announcer.start()
    return announcer


def test_a_hub_and_a_central_are_discovered(announcers: list[Announcer]) -> None:
    hub, central = str(uuid.uuid4()), str(uuid.uuid4())
    _start(announcers, _announcement(hub))
    _start(announcers, _announcement(central, role="central", school=""))
    found = discover(3.0, interfaces=LOOPBACK)
    by_id = {s.hub_id: s for s in found}
    assert {hub, central} <= set(by_id)
    a = by_id[hub]
    assert a.instance == f"Ardoise École du Littoral {short_id(hub)}"
    assert (a.role, a.school, a.school_name, a.version) == (
        "hub", "littoral", "École du Littoral", "0.1.0")
    assert a.addresses == ("127.0.0.1",) and a.port == 8080
    assert a.url == "http://127.0.0.1:8080/"
    assert found[0].role == "central"  # centrals listed first
    assert by_id[central].instance == f"Ardoise {short_id(central)}"


@pytest.mark.slow
def test_two_hubs_of_one_school_have_distinct_names(announcers: list[Announcer]) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    _start(announcers, _announcement(a))
    _start(announcers, _announcement(b))
    found = {s.hub_id: s.instance for s in discover(3.0, interfaces=LOOPBACK)}
    assert found[a] != found[b]
    assert {found[a], found[b]} == {f"Ardoise École du Littoral {short_id(a)}",
                                    f"Ardoise École du Littoral {short_id(b)}"}


@pytest.mark.slow
def test_a_name_already_answered_by_another_device_gets_a_number(
        announcers: list[Announcer]) -> None:
    hub = str(uuid.uuid4())
    # another device whose id ends like ours: same short id, so the same name
    clone = str(uuid.UUID(int=uuid.UUID(hub).int ^ (1 << 100)))
    assert short_id(clone) == short_id(hub) and clone != hub
    first = _start(announcers, _announcement(hub))
    # a generous wait for the first one's answer: the test machine may be busy
    second = _start(announcers, _announcement(clone), query_ms=4000)
    assert first.instance == f"Ardoise École du Littoral {short_id(hub)}"
    assert second.instance == f"Ardoise École du Littoral {short_id(hub)} (2)"
    names = {s.instance for s in discover(3.0, interfaces=LOOPBACK)}
    assert {first.instance, second.instance} <= names


def test_instance_names_fit_a_dns_label() -> None:
    long_school = "École primaire et secondaire des Îles-de-la-Madeleine, pavillon Est"
    name = instance_name(long_school, "3f2a", " (2)")
    assert len(name.encode()) <= 63 and name.endswith(" 3f2a (2)")
    assert name.startswith("Ardoise École")
    assert instance_name("", "3f2a") == "Ardoise 3f2a"


def test_device_id_is_made_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = device_id(tmp_path)
    assert device_id(tmp_path) == first
    assert (tmp_path / "device_id").read_text().strip() == first


def test_interfaces_setting() -> None:
    assert interfaces_setting("") is None
    assert interfaces_setting(" 10.42.0.1, 127.0.0.1 ") == ["10.42.0.1", "127.0.0.1"]
