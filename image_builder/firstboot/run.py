"""First boot: validate `ardoise.toml`, apply what changed, report in French and English.

Every step has an input; its SHA-256 is recorded in the data partition once the step has
succeeded, so later boots apply only what the technician changed. Nothing is applied when
the file has any problem; a failed step is not recorded and is retried on the next boot.
Secrets a step has consumed (Wi-Fi passphrase, enrollment token) are then removed from
the card's boot partition.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from image_builder.firstboot import identity, wifi
from image_builder.firstboot.config import DeviceConfig, publisher_key_bytes, read_device_config
from image_builder.firstboot.resize import (
    DATA_LABEL,
    ResizeError,
    check_fits,
    find_layout,
    grow_data_partition,
)
from image_builder.firstboot.system import Paths, Runner, run_command, write_file
from image_builder.messages import N_, translate
from image_builder.schema import Problem

# Blink codes shown on the status LED (the agent reads them from Paths.blink_file).
BLINK_OK = 0
BLINK_SETTINGS = 2
BLINK_CARD = 3
BLINK_STEP = 4
# What the red status light blinks for each result (hardware.problems: SETUP_*). A card too
# small leaves the data partition unmounted: the agent, and so the lights, do not start.
LIGHT_BLINKS = {BLINK_SETTINGS: 7, BLINK_STEP: 8}

MARKER_OK = "ARDOISE-FIRSTBOOT-OK"
MARKER_FAILED = "ARDOISE-FIRSTBOOT-FAILED"
HUB_COMMAND = ("/opt/ardoise/venv/bin/ardoise",)
# The database and packs live on the data partition: nothing goes on without it.
FATAL_STEPS = frozenset({"resize"})
SECRET_KEYS = {"wifi": "passphrase", "central": "enrollment_token"}

STEP_TITLES = {
    "resize": N_("Grow the data partition"),
    "hostname": N_("Network name of the hub"),
    "locale": N_("Time zone and language"),
    "settings": N_("Hub settings"),
    "secrets": N_("Per-device secrets"),
    "database": N_("Database"),
    "wifi": N_("Classroom Wi-Fi"),
    "central": N_("Central server"),
    "publishers": N_("Trusted pack publishers"),
    "ssh": N_("Remote access (SSH)"),
}
STATUS_TEXT = {
    "applied": N_("applied"),
    "unchanged": N_("unchanged"),
    "failed": N_("FAILED"),
    "skipped": N_("skipped"),
}


@dataclass
class StepOutcome:
    name: str
    status: str
    message: str = ""
    params: dict[str, object] = field(default_factory=dict)


@dataclass
class Report:
    ok: bool
    blink: int
    problems: list[Problem] = field(default_factory=list)
    steps: list[StepOutcome] = field(default_factory=list)
    generated_passphrase: str | None = None
    ssid: str | None = None


class StepFailed(Exception):
    def __init__(self, message: str, blink: int = BLINK_STEP, **params: object) -> None:
        super().__init__(message)
        self.message, self.blink, self.params = message, blink, params


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


class FirstBoot:
    """One run of first boot against `paths`, with programs run through `run`."""

    def __init__(self, paths: Paths, run: Runner = run_command,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 hub_command: Sequence[str] = HUB_COMMAND,
                 is_mount: Callable[[Path], bool] = os.path.ismount) -> None:
        self.paths, self.run_cmd, self.now, self.hub_command = paths, run, now, hub_command
        self.is_mount = is_mount
        self.generated: str | None = None

    # -- state
    def _load_state(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.paths.state_file.read_text()))
        except (OSError, ValueError):
            return {}

    def _save_state(self, state: dict[str, str]) -> None:
        write_file(self.paths.state_file, json.dumps(state, indent=2, sort_keys=True) + "\n",
                   0o600)

    # -- the run
    def run(self) -> Report:
        config, problems = read_device_config(self.paths.settings_file, self.paths.zoneinfo)
        if config is None:
            report = Report(ok=False, blink=BLINK_SETTINGS, problems=problems)
        else:
            report = self._apply(config)
        self._report(report)
        return report

    def hand_over(self, user: str) -> None:
        """Give the data partition (and /run/ardoise) to the account the web process and
        the agent run as, whatever the outcome: the agent must be able to start and show
        the blink code even when first boot failed. Nothing is done when the data
        partition is not mounted."""
        import pwd

        if not self.is_mount(self.paths.data):
            return
        try:
            account = pwd.getpwnam(user)
        except KeyError:
            return
        for top in (self.paths.data, self.paths.run):
            for folder, dirs, files in os.walk(top):
                for name in [folder, *(os.path.join(folder, n) for n in [*dirs, *files])]:
                    os.lchown(name, account.pw_uid, account.pw_gid)

    def _check_data(self) -> None:
        """The data partition must be mounted before anything is applied: without it the
        secrets and the database would land on the root file system and vanish under the
        mount at the next boot. A card too small for the image is the usual cause."""
        if self.is_mount(self.paths.data):
            return
        try:
            check_fits(find_layout(self.paths))
        except ResizeError as exc:
            if exc.card_too_small:
                raise StepFailed(exc.message, BLINK_CARD, **exc.params) from None
        raise StepFailed(N_("The data partition (%(label)s) is not mounted, so nothing was "
                            "applied. Check the card in a computer or flash it again."),
                         label=DATA_LABEL)

    def _apply(self, c: DeviceConfig) -> Report:
        passphrase = c.wifi_passphrase or wifi.current_passphrase(self.paths)
        if passphrase is None:
            passphrase = self.generated = wifi.generate_passphrase()
        steps: list[tuple[str, object, Callable[[], None]]] = [
            ("resize", 1, self._resize),
            ("hostname", c.hub_name, lambda: self._hostname(c)),
            ("locale", [c.timezone, c.language], lambda: self._locale(c)),
            ("settings", [c.school_name, c.hub_name, c.central_url, c.language, c.timezone],
             lambda: self._settings(c)),
            ("secrets", 1, self._secrets),
            ("database", 1, self._database),
            ("wifi", [c.wifi_country, c.wifi_ssid, c.wifi_channel, passphrase],
             lambda: self._wifi(c, passphrase)),
            ("central", [c.central_url, c.enrollment_token or self._current_token()],
             lambda: self._central(c)),
            ("publishers", list(c.trusted_keys), lambda: self._publishers(c)),
            ("ssh", list(c.ssh_keys), lambda: self._ssh(c)),
        ]
        try:
            self._check_data()
        except StepFailed as exc:
            return Report(ok=False, blink=exc.blink, ssid=c.wifi_ssid, steps=[
                StepOutcome("resize", "failed", exc.message, exc.params),
                *(StepOutcome(n, "skipped", N_("Not attempted: an earlier step failed."))
                  for n, _v, _a in steps[1:])])
        state = self._load_state()
        outcomes: list[StepOutcome] = []
        blink = BLINK_OK
        for name, value, apply in steps:
            key = digest(value)
            if state.get(name) == key:
                outcomes.append(StepOutcome(name, "unchanged"))
                continue
            try:
                apply()
            except StepFailed as exc:
                outcomes.append(StepOutcome(name, "failed", exc.message, exc.params))
                blink = blink or exc.blink
                if name in FATAL_STEPS:
                    outcomes.extend(StepOutcome(n, "skipped", N_(
                        "Not attempted: an earlier step failed.")) for n, _v, _a in
                        steps[len(outcomes):])
                    break
                continue
            except _Skip as exc:
                outcomes.append(StepOutcome(name, "skipped", exc.message, exc.params))
                continue
            except OSError as exc:
                outcomes.append(StepOutcome(name, "failed", N_("System error: %(error)s"),
                                            {"error": str(exc)}))
                blink = blink or BLINK_STEP
                continue
            state[name] = key
            self._save_state(state)
            outcomes.append(StepOutcome(name, "applied"))
        done = {o.name for o in outcomes if o.status in ("applied", "unchanged")}
        self._scrub_boot_file([SECRET_KEYS[s] for s in SECRET_KEYS if s in done])
        return Report(ok=blink == BLINK_OK, blink=blink, steps=outcomes,
                      generated_passphrase=self.generated, ssid=c.wifi_ssid)

    # -- steps
    def _resize(self) -> None:
        try:
            grow_data_partition(self.paths, self.run_cmd)
        except ResizeError as exc:
            blink = BLINK_CARD if exc.card_too_small else BLINK_STEP
            raise StepFailed(exc.message, blink, **exc.params) from None

    def _hostname(self, c: DeviceConfig) -> None:
        write_file(self.paths.etc / "hostname", c.hub_name + "\n")
        write_file(self.paths.etc / "hosts", "\n".join([
            "127.0.0.1\tlocalhost", f"127.0.1.1\t{c.hub_name} {c.hub_name}.local",
            "::1\tlocalhost ip6-localhost ip6-loopback", ""]))
        self._command(["hostname", c.hub_name])

    def _locale(self, c: DeviceConfig) -> None:
        localtime = self.paths.etc / "localtime"
        if localtime.is_symlink() or localtime.exists():
            localtime.unlink()
        localtime.symlink_to(Path("/usr/share/zoneinfo") / c.timezone)
        write_file(self.paths.etc / "timezone", c.timezone + "\n")
        lang = "fr_CA.UTF-8" if c.language == "fr_CA" else "en_CA.UTF-8"
        write_file(self.paths.etc / "default/locale", f"LANG={lang}\n")

    def _settings(self, c: DeviceConfig) -> None:
        path = self.paths.etc / "ardoise/ardoise.toml"
        mine = {"language": c.language, "timezone": c.timezone}
        try:
            kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                    if not re.match(rf"\s*({'|'.join(mine)})\s*=", line)]
        except FileNotFoundError:
            kept = ["# Hub settings (see `ardoise config list`). language and timezone come "
                    "from ardoise.toml on the boot partition."]
        lines = [*kept, *(f"{k} = {json.dumps(v)}" for k, v in mine.items())]
        write_file(path, "\n".join(lines) + "\n")
        write_file(self.paths.etc / "ardoise/device.toml", "\n".join([
            "# The hub's identity, from ardoise.toml on the boot partition.",
            f"school_name = {json.dumps(c.school_name, ensure_ascii=False)}",
            f"hub_name = {json.dumps(c.hub_name)}",
            f"central_url = {json.dumps(c.central_url or '')}", ""]))

    def _secrets(self) -> None:
        identity.ensure_secret_key(self.paths.data)
        try:
            identity.ensure_hub_keypair(self.paths.data)
        except ImportError:
            raise StepFailed(N_("The cryptography package is missing: the hub key pair "
                                "could not be made.")) from None

    def _database(self) -> None:
        if not Path(self.hub_command[0]).exists():
            raise _Skip(N_("The hub program is not installed in this image."))
        self._command([*self.hub_command, "db", "upgrade"])

    def _wifi(self, c: DeviceConfig, passphrase: str) -> None:
        wifi.apply_wifi(self.paths, c, passphrase)

    @property
    def _token_file(self) -> Path:
        return self.paths.data / "central/enrollment_token"

    def _current_token(self) -> str | None:
        """A token removed from the card is kept, not withdrawn (until enrollment uses it)."""
        try:
            return self._token_file.read_text().strip() or None
        except OSError:
            return None

    def _central(self, c: DeviceConfig) -> None:
        token = self._token_file
        if c.enrollment_token:
            # The agent enrolls with it as soon as the central is reachable.
            write_file(token, c.enrollment_token + "\n", 0o600)

    def _publishers(self, c: DeviceConfig) -> None:
        folder = self.paths.etc / "ardoise/trusted-publishers"
        if folder.is_dir():
            shutil.rmtree(folder)
        for i, value in enumerate(c.trusted_keys, 1):
            label = value.rsplit(":", 1)[0] if ":" in value else f"publisher-{i}"
            name = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or f"publisher-{i}"
            key = publisher_key_bytes(value)
            assert key is not None  # validated
            write_file(folder / f"{i:02d}-{name}.pub", base64.b64encode(key).decode() + "\n")

    def _ssh(self, c: DeviceConfig) -> None:
        keys = self.paths.root / "root/.ssh/authorized_keys"
        flag = self.paths.etc / "ardoise/ssh-enabled"
        if not c.ssh_keys:
            keys.unlink(missing_ok=True)
            flag.unlink(missing_ok=True)
            return
        keys.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_file(keys, "\n".join(c.ssh_keys) + "\n", 0o600)
        if not any((self.paths.etc / "ssh").glob("ssh_host_*_key")):
            self._command(["ssh-keygen", "-A"])  # host keys are per device, never in the image
        write_file(flag, "ssh is on because ardoise.toml lists a key\n")

    def _command(self, argv: list[str]) -> None:
        result = self.run_cmd(argv, None)
        if result.returncode != 0:
            raise StepFailed(N_("%(command)s failed: %(output)s"), command=" ".join(argv),
                             output=(result.stderr or result.stdout).strip()[-300:])

    # -- boot partition and report
    def _scrub_boot_file(self, keys: list[str]) -> None:
        path = self.paths.settings_file
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return
        when = self.now().strftime("%Y-%m-%d")
        pattern = re.compile(rf"^(\s*)({'|'.join(map(re.escape, keys))})\s*=.*$", re.M)
        new = pattern.sub(lambda m: f"{m.group(1)}# {m.group(2)}: appliqué et retiré de la "
                          f"carte le {when} / applied and removed from the card on {when}",
                          text) if keys else text
        if new != text:
            write_file(path, new)

    def _report(self, report: Report) -> None:
        write_file(self.paths.log_file, render_log(report, self.now()))
        write_file(self.paths.blink_file, f"{report.blink}\n")
        if not self.is_mount(self.paths.data):
            return  # the status belongs on the data partition, not under its mount point
        status = {
            "ok": report.ok, "blink_code": report.blink,
            "finished_at": self.now().isoformat(timespec="seconds"),
            "steps": {o.name: o.status for o in report.steps},
            "problems": [{"key": p.key, "en": p.render("en"), "fr": p.render("fr_CA")}
                         for p in report.problems],
            "failures": [{"step": o.name, "en": translate(o.message, "en", **o.params),
                          "fr": translate(o.message, "fr_CA", **o.params)}
                         for o in report.steps if o.status == "failed"],
        }
        write_file(self.paths.status / "firstboot.json", json.dumps(status, indent=2) + "\n")


class _Skip(Exception):
    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message)
        self.message, self.params = message, params


def _in(locale: str, message: str, **params: object) -> str:
    return translate(message, locale, **params)


def render_log(report: Report, when: dt.datetime) -> str:
    """The log a technician reads on the card from any laptop: French, then English."""
    out = [f"Ardoise — premier démarrage / first boot — {when.isoformat(timespec='seconds')}",
           ""]
    for locale, head in (("fr_CA", "FRANÇAIS"), ("en", "ENGLISH")):
        t = functools.partial(_in, locale)
        out.append(f"== {head} ==")
        if report.ok:
            out.append(t(N_("Result: the hub is configured.")))
        elif report.blink in LIGHT_BLINKS:
            out.append(t(N_("Result: FAILED (code %(code)s: the red light blinks %(blinks)s "
                            "times). Fix the problems below and start the hub again."),
                         code=report.blink, blinks=LIGHT_BLINKS[report.blink]))
        else:
            out.append(t(N_("Result: FAILED (code %(code)s: the hub's lights stay off). Fix "
                            "the problems below and start the hub again."),
                         code=report.blink))
        if report.problems:
            out.append(t(N_("ardoise.toml has %(count)s problem(s); nothing was applied:"),
                         count=len(report.problems)))
            out.extend(f"  - {p.render(locale)}" for p in report.problems)
        colon = " :" if locale.startswith("fr") else ":"
        for o in report.steps:
            line = f"  - {t(STEP_TITLES[o.name])}{colon} {t(STATUS_TEXT[o.status])}"
            if o.message:
                line += f" ({t(o.message, **o.params)})"
            out.append(line)
        if report.generated_passphrase:
            out.append(t(N_("Wi-Fi network %(ssid)s: generated passphrase %(passphrase)s "
                            "(also on the hub's status page)."), ssid=report.ssid,
                         passphrase=report.generated_passphrase))
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="ardoise-firstboot",
                                     description="Apply ardoise.toml from the boot partition.")
    parser.add_argument("--root", type=Path, default=Path("/"))
    parser.add_argument("--owner", default="ardoise",
                        help="Account that gets the data partition afterwards.")
    args = parser.parse_args(argv)
    first_boot = FirstBoot(Paths(root=args.root))
    report = first_boot.run()
    first_boot.hand_over(args.owner)
    print(MARKER_OK if report.ok else f"{MARKER_FAILED} code={report.blink}", flush=True)
    return 0 if report.ok else 1


__all__ = ["BLINK_CARD", "BLINK_OK", "BLINK_SETTINGS", "BLINK_STEP", "FirstBoot", "Report",
           "main", "render_log"]
