"""First boot against a fake root: applies once, then only what changed; removes secrets
from the card; refuses without damage; reports in French and English."""

from __future__ import annotations

import datetime as dt
import json
import stat
import sys
from pathlib import Path

from image_builder.firstboot import (
    BLINK_CARD,
    BLINK_OK,
    BLINK_SETTINGS,
    BLINK_STEP,
    FirstBoot,
    Paths,
    Report,
)
from tests.image_builder.fakeroot import RecordingRunner, make_root

SETTINGS = """\
# a comment the technician wrote
[school]
name = "École des Îles"
hub_name = "classe-5e"

[wifi]
country = "CA"
ssid = "Ardoise 5e"
passphrase = "tablettes-2026"

[central]
url = "https://central.example.org"
enrollment_token = "tok_0123456789abcdef"

[ssh]
authorized_keys = [
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl t@css",
]
"""
NOW = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)


def boot(paths: Paths, runner: RecordingRunner | None = None,
         hub: str = sys.executable, data_mounted: bool = True
         ) -> tuple[Report, RecordingRunner]:
    runner = runner or RecordingRunner()
    report = FirstBoot(paths, run=runner, now=lambda: NOW, hub_command=(hub,),
                       is_mount=lambda _path: data_mounted).run()
    return report, runner


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_boot_applies_everything(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS)
    report, runner = boot(paths)
    assert report.ok and report.blink == BLINK_OK
    assert {o.name: o.status for o in report.steps} == dict.fromkeys(
        ["resize", "hostname", "locale", "settings", "secrets", "database", "wifi",
         "central", "publishers", "ssh"], "applied")
    # the data partition grows to the end of the card, online
    assert runner.calls[0] == (["sfdisk", "--no-reread", "--no-tell-kernel", "-N", "3",
                                str(paths.dev / "mmcblk0")], ", +\n")
    assert runner.programs[:3] == ["sfdisk", "partx", "resize2fs"]
    assert [sys.executable, "db", "upgrade"] in [c for c, _ in runner.calls]
    assert (paths.etc / "hostname").read_text() == "classe-5e\n"
    assert (paths.etc / "localtime").readlink() == Path("/usr/share/zoneinfo/America/Toronto")
    assert 'language = "fr_CA"' in (paths.etc / "ardoise/ardoise.toml").read_text()
    assert "École des Îles" in (paths.etc / "ardoise/device.toml").read_text()
    # per-device secrets, readable only by their owner
    assert mode(paths.data / "secret_key") == 0o600
    assert len((paths.data / "secret_key").read_text()) == 64
    assert mode(paths.data / "keys/hub_ed25519") == 0o600
    assert b"PUBLIC KEY" in (paths.data / "keys/hub_ed25519.pub").read_bytes()
    assert (paths.data / "central/enrollment_token").read_text().strip() == \
        "tok_0123456789abcdef"
    # Wi-Fi: hostapd, firmware for more clients, capacity on the status sheet
    hostapd = (paths.etc / "hostapd/hostapd.conf").read_text()
    assert "wpa_passphrase=tablettes-2026" in hostapd
    assert f"ssid2={b'Ardoise 5e'.hex()}" in hostapd and "max_num_sta=28" in hostapd
    assert (paths.firmware / "updates/brcm/brcmfmac43455-sdio.bin").readlink() == \
        Path("/lib/firmware/cypress/cyfmac43455-sdio-minimal.bin")
    wifi = json.loads((paths.status / "wifi.json").read_text())
    assert wifi["client_capacity"] == 28 and wifi["chip_firmware"] == "minimal"
    # SSH on, by key only, with host keys made on the device
    assert (paths.root / "root/.ssh/authorized_keys").read_text().startswith("ssh-ed25519")
    assert ["ssh-keygen", "-A"] in [c for c, _ in runner.calls]
    assert (paths.etc / "ardoise/ssh-enabled").is_file()
    # secrets gone from the card, the rest of the file kept
    card = paths.settings_file.read_text()
    assert "tablettes-2026" not in card and "tok_0123456789abcdef" not in card
    assert "# a comment the technician wrote" in card and 'ssid = "Ardoise 5e"' in card
    assert "# passphrase: appliqué et retiré" in card
    # bilingual log on the card, status for the agent
    log = paths.log_file.read_text()
    assert "Résultat : le concentrateur est configuré." in log
    assert "Result: the hub is configured." in log
    assert (paths.blink_file).read_text().strip() == "0"
    assert json.loads((paths.status / "firstboot.json").read_text())["ok"] is True


def test_later_boots_apply_only_what_changed(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS)
    boot(paths)
    secret = (paths.data / "secret_key").read_text()
    report, runner = boot(paths)
    assert report.ok
    assert {o.status for o in report.steps} == {"unchanged"}
    assert runner.calls == []
    # the technician renames the network (the passphrase line is gone from the card)
    text = paths.settings_file.read_text().replace('ssid = "Ardoise 5e"', 'ssid = "Classe"')
    paths.settings_file.write_text(text)
    report, _ = boot(paths)
    assert [o.name for o in report.steps if o.status == "applied"] == ["wifi"]
    hostapd = (paths.etc / "hostapd/hostapd.conf").read_text()
    assert f"ssid2={b'Classe'.hex()}" in hostapd
    assert "wpa_passphrase=tablettes-2026" in hostapd  # kept, not regenerated
    assert (paths.data / "secret_key").read_text() == secret


def test_generated_passphrase_is_reported_and_kept(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS.replace('passphrase = "tablettes-2026"\n', ""))
    report, _ = boot(paths)
    assert report.ok and report.generated_passphrase
    generated = report.generated_passphrase
    assert len(generated) == 14
    assert generated in paths.log_file.read_text()
    assert json.loads((paths.status / "wifi.json").read_text())["passphrase"] == generated
    report, _ = boot(paths)
    assert report.generated_passphrase is None
    assert f"wpa_passphrase={generated}" in (paths.etc / "hostapd/hostapd.conf").read_text()


def test_invalid_file_applies_nothing_and_lists_every_problem(tmp_path: Path) -> None:
    bad = SETTINGS.replace('country = "CA"', 'country = "Canada"').replace(
        'hub_name = "classe-5e"', 'hub_name = "Classe 5"')
    paths = make_root(tmp_path, bad)
    report, runner = boot(paths)
    assert not report.ok and report.blink == BLINK_SETTINGS
    assert sorted(p.key for p in report.problems) == ["school.hub_name", "wifi.country"]
    assert runner.calls == []
    assert not (paths.etc / "hostname").exists() and not (paths.data / "secret_key").exists()
    assert paths.settings_file.read_text() == bad  # secrets stay until applied
    log = paths.log_file.read_text()
    assert "wifi.country: Too long" in log and "wifi.country: Trop long" in log
    assert "ÉCHEC" in log and "FAILED (code 2: the red light blinks 7 times)" in log
    assert paths.blink_file.read_text().strip() == str(BLINK_SETTINGS)


def test_card_cut_inside_the_data_partition_is_refused(tmp_path: Path) -> None:
    # The kernel trims the partition at the card's end and its ext4 does not mount: the
    # partition table on the card still tells how large the image was.
    paths = make_root(tmp_path, SETTINGS, disk_mib=1650, data_start_mib=1600, data_mib=128)
    report, runner = boot(paths, data_mounted=False)
    assert not report.ok and report.blink == BLINK_CARD
    assert runner.calls == []
    assert {o.status for o in report.steps[1:]} == {"skipped"}
    assert not (paths.data / "secret_key").exists()
    assert not (paths.status / "firstboot.json").exists()  # nothing under the mount point
    assert "tablettes-2026" in paths.settings_file.read_text()
    log = paths.log_file.read_text()
    assert "The card is smaller than the image (1650 MiB, the image needs 1728 MiB)" in log
    assert paths.blink_file.read_text().strip() == str(BLINK_CARD)


def test_data_partition_not_mounted_applies_nothing(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS)  # the card is large enough: another cause
    report, runner = boot(paths, data_mounted=False)
    assert not report.ok and report.blink == BLINK_STEP
    assert runner.calls == [] and not (paths.etc / "hostname").exists()
    log = paths.log_file.read_text()
    assert "The data partition (ardoise-data) is not mounted" in log


def test_card_smaller_than_image_is_refused_without_damage(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS, disk_mib=1000, data_start_mib=1600)
    report, runner = boot(paths)
    assert not report.ok and report.blink == BLINK_CARD
    assert runner.calls == []  # no partition table write, nothing else applied
    assert {o.name: o.status for o in report.steps}["hostname"] == "skipped"
    assert not (paths.etc / "hostname").exists()
    assert "tablettes-2026" in paths.settings_file.read_text()
    log = paths.log_file.read_text()
    assert "The card is smaller than the image (1000 MiB" in log
    assert "La carte est plus petite" in log


def test_failed_step_is_retried_next_boot(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS)
    report, _ = boot(paths, RecordingRunner(fail=["hostname"]))
    assert report.blink == BLINK_STEP
    status = {o.name: o.status for o in report.steps}
    assert status["hostname"] == "failed" and status["wifi"] == "applied"
    assert "hostname classe-5e failed: boom" in paths.log_file.read_text()
    report, runner = boot(paths)
    assert report.ok and runner.programs == ["hostname"]


def test_without_ssh_key_ssh_stays_off(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS)
    boot(paths)
    text = paths.settings_file.read_text()
    paths.settings_file.write_text(text[:text.index("[ssh]")])
    report, _ = boot(paths)
    assert [o.name for o in report.steps if o.status == "applied"] == ["ssh"]
    assert not (paths.root / "root/.ssh/authorized_keys").exists()
    assert not (paths.etc / "ardoise/ssh-enabled").exists()


def test_hub_not_installed_skips_database(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS)
    report, _ = boot(paths, hub=str(tmp_path / "absent"))
    assert report.ok
    assert {o.name: o.status for o in report.steps}["database"] == "skipped"


def test_older_chip_gets_a_lower_capacity(tmp_path: Path) -> None:
    paths = make_root(tmp_path, SETTINGS, model="Raspberry Pi Zero 2 W Rev 1.0",
                      minimal_firmware=False)
    boot(paths)
    wifi = json.loads((paths.status / "wifi.json").read_text())
    assert wifi["client_capacity"] == 10 and wifi["chip_chip"] == "cyw43430"
    assert "max_num_sta=10" in (paths.etc / "hostapd/hostapd.conf").read_text()
    assert not (paths.firmware / "updates/brcm/brcmfmac43455-sdio.bin").exists()


def test_hand_over_gives_the_data_partition_to_the_service_account(tmp_path: Path) -> None:
    import os
    import pwd

    paths = make_root(tmp_path, SETTINGS.replace('country = "CA"', 'country = "Canada"'))
    boot(paths)  # failed: the data partition is handed over all the same
    me = pwd.getpwuid(os.getuid())
    first_boot = FirstBoot(paths, is_mount=lambda _path: True)
    first_boot.hand_over(me.pw_name)
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in paths.data.rglob("*")}
    assert owners == {(me.pw_uid, me.pw_gid)} and paths.status.is_dir()
    first_boot.hand_over("no-such-account-here")  # no account: nothing to do, no error
    FirstBoot(paths, is_mount=lambda _path: False).hand_over(me.pw_name)
