"""Medium emulated tier: the full build's root (systemd, the hub's virtualenv, its units,
nginx) without the Pi's boot chain, booted under qemu-system-aarch64 -M virt.

Checks that systemd runs first boot, that the web process answers through nginx on the
guest's port 80 (forwarded to 127.0.0.1 only), that nginx serves a baked pack's files from
the active version, and what first boot left on the card.

A cold run bootstraps a Debian system under emulation (about 5 minutes on a quiet
machine, then cached); `script/test` runs it in its slow step. ARDOISE_IMAGE_MEDIUM=0
leaves it out of a run of the slow tests on a developer's machine.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import time
from pathlib import Path

import pytest

from content_packs.signing import MANIFEST_CONTEXT, generate_key, load_private_key, sign_file
from image_builder import extract, inspect, medium, prereq
from image_builder.build_config import BuildConfig
from image_builder.emulator import Running, free_port
from image_builder.firstboot import MARKER_OK
from tests.content_packs.packs import LESSON, VIDEO, build_pack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("ARDOISE_IMAGE_MEDIUM") == "0",
                       reason="ARDOISE_IMAGE_MEDIUM=0 leaves the medium image tier out"),
    pytest.mark.skipif(bool(prereq.missing_tools([*prereq.TINY_TOOLS,
                                                  *prereq.EMULATION_TOOLS])),
                       reason="needs the tools of script/bootstrap --tests"),
]

SETTINGS = """\
[school]
name = "École des Îles"
hub_name = "classe-5e"

[wifi]
country = "CA"
passphrase = "tablettes-2026"

[locale]
language = "en"
"""


class Http:
    def __init__(self, port: int) -> None:
        self.port = port

    def get(self, path: str, headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers=headers or {})
            res = conn.getresponse()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
        finally:
            conn.close()

    def wait_ok(self, path: str, timeout: float) -> bytes:
        """Poll until `path` answers 200 (nginx answers 502 until the web process is up)."""
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                status, _, body = self.get(path)
                if status == 200:
                    return body
                last = status
            except OSError as exc:
                last = exc
            time.sleep(2)
        raise AssertionError(f"{path} did not answer 200 within {timeout} s (last: {last})")


def text(data: bytes | None) -> str:
    assert data is not None
    return data.decode("utf-8")


def test_systemd_image_runs_first_boot_and_serves_the_hub(tmp_path: Path) -> None:
    pack = build_pack(tmp_path / "packs")
    publisher = generate_key(tmp_path / "keys", "recit")
    sign_file(load_private_key(publisher.private_path), pack / "manifest.json",
              pack / "manifest.sig", MANIFEST_CONTEXT)
    key = publisher.public_path.read_text().strip()
    port = free_port()
    img = medium.build(tmp_path / "medium", SETTINGS.encode(), extract.default_cache_dir(),
                       port, config=BuildConfig(packs=(str(pack),),
                                                trusted_keys=(f"recit:{key}",)))
    web = Http(port)
    with Running(img.machine, tmp_path / "console.log") as vm:
        vm.wait_for(MARKER_OK, 1500)
        status = json.loads(web.wait_ok("/api/v1/status", 900))
        assert status["healthy"] is True and status["role"] == "hub"
        # the language from ardoise.toml reached the web process
        code, _, page = web.get("/", {"Accept-Language": ""})
        if code in (301, 302, 303):
            code, _, page = web.get("/signin")
        assert b'lang="en' in page
        # nginx serves pack files itself, from the version `current` points at
        code, headers, body = web.get("/library/files/essai/lecons/ecole.html")
        assert code == 200 and body == LESSON.encode()
        assert "public" in headers.get("cache-control", "")
        code, headers, body = web.get("/library/files/essai/videos/film.mp4",
                                      {"Range": "bytes=10-19"})
        assert code == 206 and body == VIDEO[10:20]
        assert web.get("/library/files/essai/../../ardoise.db")[0] in (400, 404)
        assert web.get("/library/files/essai/manifest.json")[0] == 200
        assert web.get("/library/files/absent/x.html")[0] == 404
        vm.wait_for(medium.WIFI_DONE, 600)
        vm.press_power_button()
        vm.wait_exit(600)
        console = vm.console()

    console = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", console)  # systemd's colours
    assert "Finished ardoise-firstboot" in console, console[-3000:]
    failed = re.findall(r"\[FAILED\] Failed to start (\S+)", console)
    assert not failed, failed
    # the classroom access point, on the first emulated radio, seen from the second one
    wifi = json.loads(text(inspect.ext4_read(img.image, 3, "/status/wifi.json")))
    units = text(inspect.ext4_read(img.image, 3, medium.WIFI_UNITS.removeprefix(
        "/var/lib/ardoise")))
    states = re.findall(r"^(active|inactive|activating|failed)$", units, re.MULTILINE)
    assert states == ["active", "active"], units  # hostapd, dnsmasq
    assert "inet 10.42.0.1/24" in units and "country CA" in units, units
    assert "sockets bound exclusively to interface wlan0" in units, units  # dnsmasq
    assert "resolvconf" not in units, units  # not the hub's own resolver
    scan = text(inspect.ext4_read(img.image, 3, medium.WIFI_SCAN.removeprefix(
        "/var/lib/ardoise")))
    assert f"SSID: {wifi['ssid']}" in scan, scan
    assert "RSN:" in scan and "CCMP" in scan and "PSK" in scan, scan
    # first boot on the card: database made by the hub program, secrets, settings
    state = json.loads(text(inspect.ext4_read(img.image, 3, "/status/firstboot.json")))
    assert state["ok"] is True
    assert state["steps"]["database"] == "applied" and state["steps"]["resize"] == "applied"
    assert inspect.ext4_read(img.image, 3, "/ardoise.db") is not None
    assert re.search(r"User:\s+(\d+)", inspect.ext4_stat(img.image, 3, "/secret_key"))
    assert "User:     0" not in inspect.ext4_stat(img.image, 3, "/secret_key")  # chowned
    assert "tablettes-2026" not in text(inspect.fat_read(img.image, "ardoise.toml"))
    assert text(inspect.ext4_read(img.image, 2, "/etc/hostname")) == "classe-5e\n"
    # no password anywhere, SSH off without a key
    shadow = text(inspect.ext4_read(img.image, 2, "/etc/shadow"))
    for line in shadow.splitlines():
        assert line.split(":")[1][:1] in ("!", "*"), line.split(":")[0]
    assert inspect.ext4_read(img.image, 2, "/etc/ardoise/ssh-enabled") is None
    assert inspect.ext4_read(img.image, 2, "/root/.ssh/authorized_keys") is None
    assert not [n for n in inspect.ext4_list(img.image, 2, "/etc/ssh")
                if n.startswith("ssh_host_")]
    assert "Listening on ssh.socket" not in console and "Started ssh.service" not in console
    for folder in ("sockets.target.wants", "multi-user.target.wants"):
        enabled = inspect.ext4_list(img.image, 2, f"/etc/systemd/system/{folder}")
        assert "ssh.socket" not in enabled and "rsync.service" not in enabled, enabled
    # each hub got its own machine id, committed to disk
    assert re.fullmatch(r"[0-9a-f]{32}\n", text(inspect.ext4_read(img.image, 2,
                                                                 "/etc/machine-id")))
    # the baked pack's publisher is trusted by the image itself
    assert text(inspect.ext4_read(img.image, 2, "/usr/share/ardoise/trusted-publishers/"
                                  "01-recit.pub")).strip() == key
