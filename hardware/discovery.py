"""Finding hubs on the network with zeroconf (mDNS / DNS-SD).

A hub announces `_http._tcp` (so any mDNS browser lists its home page) and
`_ardoise._tcp`, whose TXT properties give the role, school, hub id and version;
`ardoise discover` browses `_ardoise._tcp` and lists hubs and centrals. zeroconf objects
stay in this module: callers get `Announcement` and `SeenService` values.

Several hubs in one school: the instance name carries the school name and the short
device id ("Ardoise École du Littoral 3f2a"); if another device already answers to that
name (an SD card cloned after its first start), " (2)", " (3)"... is added.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ifaddr
from zeroconf import (
    DNSQuestionType,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from ardoise.settings import Settings
from hardware.identity import SchoolInfo, short_id

log = logging.getLogger(__name__)

ARDOISE_TYPE = "_ardoise._tcp.local."
HTTP_TYPE = "_http._tcp.local."
MAX_LABEL_BYTES = 63  # DNS label limit for the instance name
QUERY_MS = 1000  # how long to wait for another device answering to our name
REGISTER_TIMEOUT = 20.0
RESOLVE_MS = 2000  # details of a service seen while browsing (usually already cached)


@dataclass(frozen=True)
class Announcement:
    instance: str
    host: str  # mDNS host name, without ".local."
    role: str
    school: str
    school_name: str
    hub_id: str
    version: str
    port: int
    path: str = "/"

    def properties(self) -> dict[str, str]:
        return {"role": self.role, "school": self.school, "school_name": self.school_name,
                "hub": self.hub_id, "version": self.version, "path": self.path}


def instance_name(school_name: str, short: str, suffix: str = "") -> str:
    """ "Ardoise <school> <short id>", the school name cut to fit a DNS label."""
    tail = f" {short}{suffix}"
    head = "Ardoise"
    name = f"{head} {school_name.strip()}".strip() if school_name.strip() else head
    while len((name + tail).encode()) > MAX_LABEL_BYTES:
        name = name[:-1].rstrip()
    return name + tail


def build_announcement(settings: Settings, dev_id: str, school: SchoolInfo,
                       version: str) -> Announcement:
    url = urlsplit(settings.hub_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    short = short_id(dev_id)
    return Announcement(instance=instance_name(school.name, short), host=f"ardoise-{short}",
                        role=settings.role, school=school.code, school_name=school.name,
                        hub_id=dev_id, version=version, port=port, path=url.path or "/")


def interfaces_setting(value: str) -> list[str] | None:
    """`discovery_interfaces` as a list of addresses, or None for every interface."""
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def local_addresses() -> list[str]:
    """IPv4 addresses of this machine's interfaces, loopback last (announced when nothing
    else is up, so a hub on a bench still finds itself)."""
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and ip.ip not in found:
                found.append(ip.ip)
    return sorted(found, key=lambda a: (a.startswith("127."), a))


def _zeroconf(interfaces: list[str] | None) -> Zeroconf:
    """Always zeroconf's own loop thread (use_asyncio=False): our callers are synchronous,
    and an asyncio loop running in the caller's thread (a test browser, an embedding
    program) must not be borrowed."""
    if interfaces:
        return Zeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only, use_asyncio=False)
    return Zeroconf(ip_version=IPVersion.V4Only, use_asyncio=False)


class Announcer:
    """Keeps the hub's two services announced until closed."""

    def __init__(self, announcement: Announcement, *, interfaces: list[str] | None = None,
                 addresses: list[str] | None = None, query_ms: int = QUERY_MS) -> None:
        self.announcement = announcement
        self.query_ms = query_ms
        self.interfaces = interfaces
        self.addresses = addresses
        self._zc: Zeroconf | None = None
        self._infos: list[ServiceInfo] = []

    @property
    def instance(self) -> str:
        """The name in use (may carry a " (2)" after a conflict)."""
        return self._infos[0].name.removesuffix("." + ARDOISE_TYPE) if self._infos else ""

    def start(self) -> None:
        self._zc = _zeroconf(self.interfaces)
        self._register(self.announcement)

    def update(self, announcement: Announcement) -> None:
        """Announce new properties (after enrolment the school is known)."""
        if announcement == self.announcement or self._zc is None:
            self.announcement = announcement
            return
        self._zc.unregister_all_services()
        self._infos = []
        self.announcement = announcement
        self._register(announcement)

    def close(self) -> None:
        if self._zc is not None:
            try:
                self._zc.unregister_all_services()
            finally:
                self._zc.close()
                self._zc = None
                self._infos = []

    def _register(self, ann: Announcement) -> None:
        assert self._zc is not None
        addresses = self.addresses or self.interfaces or local_addresses()
        packed = [socket.inet_aton(a) for a in addresses if _is_ipv4(a)]
        instance = self._free_instance(ann)
        props = ann.properties()
        infos = [ServiceInfo(type_, f"{instance}.{type_}", port=ann.port, properties=props,
                             server=f"{ann.host}.local.", addresses=packed)
                 for type_ in (ARDOISE_TYPE, HTTP_TYPE)]
        zc = self._zc

        async def register_both() -> None:
            # Both services probe the network at once: half the wait of one after the other.
            tasks = [await zc.async_register_service(i, allow_name_change=True) for i in infos]
            await asyncio.gather(*tasks)

        asyncio.run_coroutine_threadsafe(register_both(), zc.loop).result(REGISTER_TIMEOUT)
        self._infos.extend(infos)
        log.info("announced as %r on %s", instance, ", ".join(addresses))

    def _free_instance(self, ann: Announcement) -> str:
        """The first name no other device answers to (ours may answer: same hub id)."""
        assert self._zc is not None
        short = short_id(ann.hub_id)
        for n in range(1, 10):
            name = instance_name(ann.school_name, short, "" if n == 1 else f" ({n})")
            # QM: answers come by multicast, so they reach us even when another responder
            # on this machine holds the unicast port
            other = self._zc.get_service_info(ARDOISE_TYPE, f"{name}.{ARDOISE_TYPE}",
                                              timeout=self.query_ms,
                                              question_type=DNSQuestionType.QM)
            if other is None or _prop(other, "hub") == ann.hub_id:
                return name
            log.warning("another device answers to %r: trying another name", name)
        return instance_name(ann.school_name, short, f" ({time.time_ns() % 10000})")


def _is_ipv4(address: str) -> bool:
    try:
        socket.inet_aton(address)
    except OSError:
        return False
    return address.count(".") == 3


def _prop(info: ServiceInfo, key: str) -> str:
    value = (info.properties or {}).get(key.encode())
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


@dataclass(frozen=True)
class SeenService:
    """A hub or central seen on the network."""

    instance: str
    role: str
    school: str
    school_name: str
    hub_id: str
    version: str
    addresses: tuple[str, ...]
    port: int
    path: str = "/"

    @property
    def url(self) -> str:
        if not self.addresses:
            return ""
        port = "" if self.port == 80 else f":{self.port}"
        return f"http://{self.addresses[0]}{port}{self.path}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.instance, "role": self.role, "school": self.school,
                "school_name": self.school_name, "hub_id": self.hub_id,
                "version": self.version, "addresses": list(self.addresses),
                "port": self.port, "url": self.url}


def _seen(info: ServiceInfo) -> SeenService:
    return SeenService(
        instance=info.name.removesuffix("." + ARDOISE_TYPE), role=_prop(info, "role"),
        school=_prop(info, "school"), school_name=_prop(info, "school_name"),
        hub_id=_prop(info, "hub"), version=_prop(info, "version"),
        addresses=tuple(info.parsed_addresses(IPVersion.V4Only)), port=info.port or 0,
        path=_prop(info, "path") or "/")


@dataclass
class _Collector:
    names: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_change(self, zeroconf: Zeroconf, service_type: str, name: str,
                  state_change: ServiceStateChange) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            with self.lock:
                if name not in self.names:
                    self.names.append(name)


def discover(seconds: float = 3.0, *, interfaces: list[str] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> list[SeenService]:
    """Hubs and centrals that answer within `seconds`, sorted by role then name."""
    zc = _zeroconf(interfaces)
    try:
        collector = _Collector()
        browser = ServiceBrowser(zc, ARDOISE_TYPE, handlers=[collector.on_change])
        try:
            sleep(seconds)
        finally:
            browser.cancel()
        with collector.lock:
            names = list(collector.names)
        found: list[SeenService] = []
        for name in names:
            info = zc.get_service_info(ARDOISE_TYPE, name, timeout=RESOLVE_MS)
            if info is not None:
                found.append(_seen(info))
    finally:
        zc.close()
    return sorted(found, key=lambda s: (s.role != "central", s.role, s.instance))


def find_central(seconds: float = 2.0, *, interfaces: list[str] | None = None) -> str | None:
    """The address of a central server answering on this network, if any (the sync
    engine tries it when the configured central cannot be reached)."""
    for seen in discover(seconds, interfaces=interfaces):
        if seen.role == "central" and seen.url:
            return seen.url.rstrip("/")
    return None


__all__ = ["ARDOISE_TYPE", "HTTP_TYPE", "Announcement", "Announcer", "SeenService",
           "build_announcement", "discover", "find_central", "instance_name", "interfaces_setting",
           "local_addresses"]
