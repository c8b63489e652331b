"""The classroom network's dnsmasq configuration, run by a real dnsmasq between two network
namespaces: the hub's (a veth named wlan0 stands in for the access point) and a tablet's.

On the Pi, wlan0 appears when its driver loads, hostapd brings it up and networkd gives it
the hub's address, in no fixed order with dnsmasq's start: dnsmasq is started here before
wlan0 even exists, and must still lease addresses and answer every name with the hub's
address (the captive portal).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware.captive import render_dnsmasq
from image_builder.pipeline import DHCP_FIRST, DHCP_LAST, HUB_IP

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("dnsmasq") or not shutil.which("busybox")
    or not shutil.which("ip"),
    reason="needs root (network namespaces), dnsmasq and busybox (script/bootstrap --tests)")

LEASE_SCRIPT = """#!/bin/sh
[ "$1" = bound ] && echo "ip=$ip router=$router dns=$dns" > "$(dirname "$0")/lease.txt"
exit 0
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def in_ns(ns: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture
def classroom() -> Iterator[tuple[str, str]]:
    """(hub namespace, tablet namespace), not linked yet (see `plug_in`)."""
    tag = uuid.uuid4().hex[:8]
    hub, tablet = f"ardoise-hub-{tag}", f"ardoise-tab-{tag}"
    ip("netns", "add", hub)
    try:
        ip("netns", "add", tablet)
        for ns in (hub, tablet):
            ip("-n", ns, "link", "set", "lo", "up")
        yield hub, tablet
    finally:
        for ns in (tablet, hub):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)


def plug_in(hub: str, tablet: str) -> None:
    """A veth between the two, wlan0 on the hub's side, with the hub's address."""
    ip("link", "add", "wlan0", "netns", hub, "type", "veth", "peer", "name", "eth0",
       "netns", tablet)
    ip("-n", hub, "link", "set", "wlan0", "up")
    ip("-n", tablet, "link", "set", "eth0", "up")
    ip("-n", hub, "addr", "add", f"{HUB_IP}/24", "dev", "wlan0")


def test_tablet_gets_a_lease_and_every_name_leads_to_the_hub(
        classroom: tuple[str, str], tmp_path: Path) -> None:
    hub, tablet = classroom
    conf = tmp_path / "ardoise.conf"
    conf.write_text(render_dnsmasq(interface="wlan0", hub_ip=HUB_IP, range_start=DHCP_FIRST,
                                   range_end=DHCP_LAST))
    dnsmasq = subprocess.Popen(
        ["ip", "netns", "exec", hub, "dnsmasq", "--keep-in-foreground", f"--conf-file={conf}",
         f"--dhcp-leasefile={tmp_path / 'leases'}", f"--pid-file={tmp_path / 'pid'}",
         "--log-facility=-", "--user=root", "--group=root"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)  # dnsmasq is up before wlan0 exists, as on a slow boot
        assert dnsmasq.poll() is None, dnsmasq.communicate()[0]
        plug_in(hub, tablet)

        script = tmp_path / "lease.sh"
        script.write_text(LEASE_SCRIPT)
        script.chmod(0o755)
        got = in_ns(tablet, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-f", "-t", "10",
                    "-T", "1", "-s", str(script))
        assert got.returncode == 0, got.stdout + got.stderr
        lease = dict(kv.split("=", 1) for kv in (tmp_path / "lease.txt").read_text().split())
        first, last = (int(a.rsplit(".", 1)[1]) for a in (DHCP_FIRST, DHCP_LAST))
        assert lease["ip"].startswith("10.42.0.") and (
            first <= int(lease["ip"].rsplit(".", 1)[1]) <= last), lease
        assert lease["router"] == HUB_IP and lease["dns"] == HUB_IP
        ip("-n", tablet, "addr", "add", f"{lease['ip']}/24", "dev", "eth0")

        # The connectivity checks of the tablets' systems all resolve to the hub.
        for name in ("connectivitycheck.gstatic.com", "captive.apple.com",
                     "www.msftconnecttest.com", "ecole.example.org"):
            answer = in_ns(tablet, "busybox", "nslookup", "-type=A", name, HUB_IP)
            assert answer.returncode == 0, answer.stdout + answer.stderr
            answers = answer.stdout.split("Name:", 1)[1]  # after the server's own lines
            addresses = [line.split()[-1] for line in answers.splitlines()
                         if line.startswith("Address")]
            assert addresses == [HUB_IP], answer.stdout
    finally:
        dnsmasq.terminate()
        out, _ = dnsmasq.communicate(timeout=10)
    assert f"DHCPACK(wlan0) {lease['ip']}" in out, out
