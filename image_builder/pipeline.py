"""`ardoise image build`, stage by stage, with a cache so a re-run resumes quickly.

Stages: check -> bootstrap (mmdebstrap, arm64 bookworm, cached by suite, mirror and
package list; the initramfs is made once inside it, so a cached rebuild never waits for
it) -> hub (virtualenv from the project's wheel and locked arm64 wheels) -> configure
(units, nginx, access point, no passwords) -> packs (baked into the data partition) ->
assemble -> outputs. Each stage works in a scratch copy under the cache and the image
appears under its final name only at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ardoise.i18n import N_
from hardware.captive import render_dnsmasq
from image_builder import extract, outputs, partitions, prereq
from image_builder.build_config import BuildConfig
from image_builder.errors import BuildFailed, PrerequisiteMissing
from image_builder.progress import Progress

FILES = Path(__file__).with_name("files")
PROJECT = Path(__file__).resolve().parents[1]
# The system around the hub: init, network (networkd uplink on Ethernet, the classroom
# access point on Wi-Fi), names (avahi), the front (nginx), key-only SSH, Python.
SYSTEM_PACKAGES = (
    "systemd-sysv", "systemd-resolved", "systemd-timesyncd", "udev", "dbus", "kmod",
    "iproute2", "netbase", "ca-certificates", "tzdata", "locales", "adduser", "fdisk",
    "e2fsprogs", "dosfstools", "wireless-regdb", "iw", "hostapd", "dnsmasq", "avahi-daemon",
    "nginx-light", "openssh-server", "python3", "python3-venv", "rsync",
)
# What the Pi needs to boot and to drive its Wi-Fi chip; left out of the emulated
# medium test image, which boots the Debian kernel directly.
BOOT_CHAIN_PACKAGES = ("raspi-firmware", "linux-image-arm64", "firmware-brcm80211")
PACKAGES = (*SYSTEM_PACKAGES, *BOOT_CHAIN_PACKAGES)
LOCALES = ("fr_CA.UTF-8 UTF-8", "en_CA.UTF-8 UTF-8")
HUB_PREFIX = "/opt/ardoise/venv"
IMAGE_KEYS = "/usr/share/ardoise/trusted-publishers"  # from build.toml
DEVICE_KEYS = "/etc/ardoise/trusted-publishers"  # from ardoise.toml, written by first boot
# Hub network on the classroom Wi-Fi (see files/wlan0-ardoise.network).
HUB_IP, DHCP_FIRST, DHCP_LAST = "10.42.0.1", "10.42.0.20", "10.42.0.250"


@dataclass
class BuildResult:
    image: Path
    files: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def check(config: BuildConfig, out_dir: Path, cache_dir: Path,
          which: Callable[[str], str | None] = prereq.which,
          free_bytes: Callable[[Path], int] | None = None) -> None:
    """Everything that can be known before starting: tools, then disk space."""
    prereq.require_tools(prereq.tools_for(config), which)
    needs = prereq.disk_needs(config, out_dir, cache_dir)
    if free_bytes is None:
        prereq.require_disk(needs)
    else:
        prereq.require_disk(needs, free_bytes)
    if config.base_image is not None:
        raise PrerequisiteMissing(N_("--base (customising a Raspberry Pi OS image) is not "
                                     "supported yet; build from Debian packages instead."))


def _run(argv: Sequence[str], env: dict[str, str] | None = None, stdin: str | None = None,
         inherit_env: bool = True) -> str:
    full_env = {**os.environ, **(env or {})} if inherit_env else dict(env or {})
    res = subprocess.run(["nice", *argv], input=stdin, text=True, capture_output=True,
                         env=full_env, check=False)
    if res.returncode != 0:
        raise BuildFailed(N_("%(command)s failed: %(output)s"), command=" ".join(argv[:3]),
                          output=(res.stderr or res.stdout).strip()[-1500:])
    return res.stdout


def host_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt already uses, so builds need no new address."""
    for path in [*sorted(sources.glob("sources.list.d/*.sources")), sources / "sources.list"]:
        with contextlib.suppress(OSError):
            text = path.read_text()
            for line in text.splitlines():
                parts = line.split()
                if line.startswith("URIs:") and parts[1].rstrip("/").endswith("/debian"):
                    return parts[1]
                if line.startswith("deb ") and parts[1].rstrip("/").endswith("/debian"):
                    return parts[1]
    raise PrerequisiteMissing(N_("No Debian mirror found in this machine's apt sources: set "
                                 "image.mirror in build.toml."))


@contextlib.contextmanager
def arm64_emulation() -> Iterator[None]:
    """Let arm64 programs run in the chroot: mount binfmt_misc if needed, enable
    qemu-aarch64, and undo what was mounted."""
    if platform.machine() in ("aarch64", "arm64"):
        yield
        return
    mnt = Path("/proc/sys/fs/binfmt_misc")
    mounted = False
    if not (mnt / "status").exists():
        _run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(mnt)])
        mounted = True
    try:
        if not (mnt / "qemu-aarch64").exists():
            _run([prereq.which("update-binfmts") or "update-binfmts", "--enable",
                  "qemu-aarch64"])
        yield
    finally:
        if mounted:
            subprocess.run(["umount", str(mnt)], check=False)


# Run in the new system once its packages are in (mmdebstrap's customize hook, under
# emulation): the one initramfs run (the dpkg trigger's second run is held back by
# update_initramfs=no), the Pi boot partition filled by raspi-firmware's kernel hook, the
# two locales, and kernel updates on the Pi left to work as usual afterwards.
CUSTOMIZE = """set -e
if command -v update-initramfs >/dev/null && ! ls /boot/initrd.img-* >/dev/null 2>&1; then
  update-initramfs -c -k all
fi
if [ -x /etc/kernel/postinst.d/z50-raspi-firmware ]; then
  for v in /lib/modules/*; do
    DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware "${v##*/}"
  done
fi
if [ -f /etc/initramfs-tools/update-initramfs.conf ]; then
  sed -i 's/^update_initramfs=no/update_initramfs=yes/' /etc/initramfs-tools/update-initramfs.conf
fi
printf '%s\\n' LOCALES > /etc/locale.gen
locale-gen
""".replace("LOCALES", " ".join(f"'{loc}'" for loc in LOCALES))


def bootstrap(config: BuildConfig, cache: Path, packages: Sequence[str] = PACKAGES) -> Path:
    """The Debian system, cached by what went into it (suite, mirror, packages): a re-run
    reuses it, and downloaded packages are kept for the next different one."""
    packages = [*packages, *config.extra_packages]
    mirror = config.mirror or host_mirror()
    tree = cache / f"bootstrap-{extract.cache_key(config.suite, mirror, sorted(packages))}"
    with extract.cache_lock(cache, "bootstrap"):
        if (tree / ".complete").is_file():
            return tree
        tmp = tree.with_name(tree.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        debs = cache / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        setup = (
            'mkdir -p "$1/etc/default" "$1/etc/initramfs-tools" "$1/boot/firmware" '
            '"$1/var/cache/apt/archives" && '
            f'printf "ROOTPART=LABEL=%s\\nCONSOLES=\\"serial0,115200 tty1\\"\\n" '
            f'{partitions.ROOT_LABEL} > "$1/etc/default/raspi-firmware" && '
            'printf "update_initramfs=no\\n" > "$1/etc/initramfs-tools/update-initramfs.conf"'
        )
        _run(["mmdebstrap", "--variant=minbase", "--architectures=arm64",
              "--components=main,non-free-firmware", f"--include={','.join(packages)}",
              "--dpkgopt=force-confold", "--skip=essential/unlink",
              f"--setup-hook={setup}",
              f"--setup-hook=sync-in {debs} /var/cache/apt/archives/",
              f"--customize-hook=chroot \"$1\" sh -c {shlex.quote(CUSTOMIZE)}",
              f"--customize-hook=sync-out /var/cache/apt/archives {debs}",
              config.suite, str(tmp), f"deb {mirror} {config.suite} main non-free-firmware"])
        (tmp / ".complete").write_text(json.dumps(sorted(packages)) + "\n")
        tmp.rename(tree)
    return tree


def _wheel_platforms() -> list[str]:
    """Every manylinux tag bookworm's glibc (2.36) runs on arm64."""
    tags = ["manylinux2014_aarch64"]
    tags += [f"manylinux_2_{minor}_aarch64" for minor in range(17, 37)]
    return [arg for tag in tags for arg in ("--platform", tag)]


BUILD_REQUIREMENTS = ("setuptools>=77", "wheel")  # pyproject.toml's [build-system]


def _pip(args: Sequence[str], links: Sequence[Path]) -> None:
    """pip from what the cache holds first (`--no-index`), so a rebuild or a test run
    needs no network once the wheels are there; from the package index only when
    something is missing."""
    pip = [sys.executable, "-m", "pip", *args, *(f"--find-links={d}" for d in links)]
    try:
        _run([*pip, "--no-index"])
    except BuildFailed:
        _run(pip)


def build_hub_wheels(config: BuildConfig, cache: Path) -> Path:
    """The project's wheel plus its locked dependencies as arm64 wheels (nothing is compiled
    under emulation)."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for old in wheels.glob("ardoise-*.whl"):
        old.unlink()
    if config.wheel:
        shutil.copy(config.wheel, wheels)
    else:
        # The build backend's own wheels are kept too: the project's wheel is then built
        # without the network.
        backend = cache / "build-backend"
        backend.mkdir(exist_ok=True)
        _pip(["download", "-q", "--only-binary=:all:", "-d", str(backend),
              *BUILD_REQUIREMENTS], [backend])
        # From a copy of the sources: setuptools leaves build/lib behind in the tree it
        # builds in, and stale files there would end up in the next wheel.
        source = cache / "source"
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(PROJECT, source, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
            ".ruff_cache", ".demo", ".work", "var", "tests", "bench", "demo"))
        try:
            _pip(["wheel", "-q", "--no-deps", "-w", str(wheels), str(source)], [backend])
        finally:
            shutil.rmtree(source, ignore_errors=True)
    wheel = next(wheels.glob("ardoise-*.whl"))
    constraints = config.constraints or PROJECT / "constraints.txt"
    _pip(["download", "-q", "--only-binary=:all:", *_wheel_platforms(), "--python-version",
          "3.11", "--implementation", "cp", "-c", str(constraints), "-d", str(wheels),
          str(wheel)], [wheels])
    return wheels


def chroot(root: Path, *argv: str) -> str:
    return _run(["chroot", str(root), *argv], env={"LC_ALL": "C.UTF-8"})


def install_hub(root: Path, wheels: Path) -> None:
    """A virtualenv in /opt/ardoise/venv with the hub and only its locked wheels."""
    target = root / "tmp/wheels"
    shutil.copytree(wheels, target, dirs_exist_ok=True)
    try:
        chroot(root, "python3", "-m", "venv", HUB_PREFIX)
        wheel = next(p.name for p in wheels.glob("ardoise-*.whl"))
        chroot(root, f"{HUB_PREFIX}/bin/pip", "install", "-q", "--no-index",
               "--no-compile", "--disable-pip-version-check", "--find-links", "/tmp/wheels",
               f"/tmp/wheels/{wheel}")
        # Byte-compile once here: the root is kept free of writes on the Pi. The web unit
        # runs `python -OO` (docs/decisions.md, "The web process stays small"), so the
        # virtualenv and the standard library get their -OO bytecode too; without it each
        # start would compile everything from source again.
        chroot(root, f"{HUB_PREFIX}/bin/python", "-m", "compileall", "-q", "-o", "0",
               "-o", "2", HUB_PREFIX)
        chroot(root, "python3", "-m", "compileall", "-q", "-o", "2", "/usr/lib/python3.11")
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _put(root: Path, name: str, dest: str, mode: int = 0o644) -> None:
    path = root / dest.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    shutil.copy(FILES / name, path)
    path.chmod(mode)


def _write(root: Path, dest: str, text: str) -> None:
    path = root / dest.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.write_text(text)


def configure(root: Path, config: BuildConfig) -> None:
    """Services, access point, no default password anywhere, writes kept off the root."""
    for unit in ("ardoise-web.service", "ardoise-agent.service",
                 "ardoise-firstboot.service"):
        _put(root, unit, f"/etc/systemd/system/{unit}")
    _put(root, "ssh-ardoise.conf", "/etc/systemd/system/ssh.service.d/ardoise.conf")
    _put(root, "ssh-ardoise.conf", "/etc/systemd/system/ssh.socket.d/ardoise.conf")
    _put(root, "sshd-ardoise.conf", "/etc/ssh/sshd_config.d/ardoise.conf")
    _put(root, "journald-ardoise.conf", "/etc/systemd/journald.conf.d/ardoise.conf")
    _put(root, "nginx-ardoise.conf", "/etc/nginx/sites-available/ardoise")
    _put(root, "avahi-ardoise.service", "/etc/avahi/services/ardoise.service")
    _put(root, "wlan0-ardoise.network", "/etc/systemd/network/10-wlan0.network")
    _put(root, "ethernet-ardoise.network", "/etc/systemd/network/20-ethernet.network")
    _put(root, "gpio-ardoise.rules", "/etc/udev/rules.d/60-ardoise-gpio.rules")
    _write(root, "/etc/dnsmasq.d/ardoise.conf", render_dnsmasq(
        interface="wlan0", hub_ip=HUB_IP, range_start=DHCP_FIRST, range_end=DHCP_LAST))
    # dnsmasq answers the classroom only: it must not become the hub's own resolver (every
    # name would lead back to the hub, the central server's too).
    _write(root, "/etc/default/dnsmasq", "CONFIG_DIR=/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,"
           ".dpkg-new\nDNSMASQ_EXCEPT=lo\n")
    for site in (root / "etc/nginx/sites-enabled").glob("*"):
        site.unlink()
    (root / "etc/nginx/sites-enabled/ardoise").symlink_to("../sites-available/ardoise")
    _write(root, "/etc/fstab", partitions.fstab())
    # The publishers of the baked packs, beside those ardoise.toml adds on first boot.
    shutil.rmtree(root / IMAGE_KEYS.lstrip("/"), ignore_errors=True)
    write_publisher_keys(root / IMAGE_KEYS.lstrip("/"), config.trusted_keys)
    _write(root, "/etc/ardoise/ardoise.toml", "\n".join([
        "# Hub settings (see `ardoise config list`); first boot adds language and timezone",
        "# from ardoise.toml on the boot partition.",
        f"pack_trusted_keys = {json.dumps(f'{IMAGE_KEYS},{DEVICE_KEYS}')}", ""]))
    (root / "var/lib/ardoise").mkdir(parents=True, exist_ok=True)
    # Per-device identity is made on the device: no host keys or machine id in the image.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # Empty, not "uninitialized": each hub still gets its own machine id at boot, but
    # systemd does not treat it as a first boot, whose preset pass would enable every
    # installed unit (ssh.socket listening on port 22, the rsync daemon...).
    _write(root, "/etc/machine-id", "")
    with contextlib.suppress(FileNotFoundError):
        (root / "var/lib/dbus/machine-id").unlink()
    if not _has_account(root, "ardoise"):
        chroot(root, "adduser", "--system", "--group", "--home", "/var/lib/ardoise",
               "--no-create-home", "ardoise")
    if not _has_account(root, "gpio", "group"):
        chroot(root, "addgroup", "--system", "gpio")
    chroot(root, "usermod", "--lock", "root")  # no password opens root, ever
    # Settings come from ardoise.toml, never from a console prompt on first boot; and the
    # hub updates by a new image, not by apt fetching lists over the school's thin link.
    chroot(root, "systemctl", "mask", "systemd-firstboot.service", "apt-daily.timer",
           "apt-daily-upgrade.timer")
    for unit in ("hostapd.service",):
        if (root / "lib/systemd/system" / unit).exists():
            chroot(root, "systemctl", "unmask", unit)
    chroot(root, "systemctl", "enable", "ardoise-firstboot.service", "ardoise-web.service",
           "ardoise-agent.service", "systemd-networkd.service", "systemd-resolved.service",
           "hostapd.service", "nginx.service")
    # Only the client side of rsync is used (pack transfers); SSH through ssh.service only.
    chroot(root, "systemctl", "disable", "rsync.service", "ssh.socket")
    # nginx checks its configuration (the same binary and modules as on the Pi).
    chroot(root, "nginx", "-t", "-q")
    template = config.settings_template or FILES / "ardoise.toml"
    boot = root / "boot/firmware"
    boot.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, boot / "ardoise.toml")


def _has_account(root: Path, name: str, kind: str = "passwd") -> bool:
    path = root / "etc" / ("group" if kind == "group" else "passwd")
    return any(line.split(":", 1)[0] == name for line in path.read_text().splitlines())


def check_no_passwords(root: Path) -> list[str]:
    """Accounts a password opens in the image, an empty one included (there must be none:
    every account is locked with `!` or `*`)."""
    bad = []
    for line in (root / "etc/shadow").read_text().splitlines():
        name, pw = line.split(":")[:2]
        if not pw.startswith(("!", "*")):
            bad.append(name)
    return bad


def build_root(config: BuildConfig, cache_dir: Path, work: Path, progress: Progress,
               packages: Sequence[str] = PACKAGES) -> Path:
    """work/root: the bootstrap (cached) copied, the hub installed, the system configured.
    Runs arm64 programs, so the caller holds `arm64_emulation()`."""
    with progress.stage("bootstrap"):
        tree = bootstrap(config, cache_dir, packages)
    root = work / "root"
    shutil.rmtree(root, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    _run(["cp", "-a", "--reflink=auto", str(tree), str(root)])
    (root / ".complete").unlink()
    with progress.stage("hub"):
        install_hub(root, build_hub_wheels(config, cache_dir))
    with progress.stage("configure"):
        configure(root, config)
        if bad := check_no_passwords(root):
            raise BuildFailed(N_("Accounts with a password in the image: %(names)s."),
                              names=", ".join(bad))
    return root


def split_partitions(root: Path, work: Path) -> tuple[Path, Path]:
    """Move the boot partition's files (/boot/firmware) and the data partition's
    (/var/lib/ardoise) out of the root tree, leaving their empty mount points."""
    boot, data = work / "boot", work / "data"
    for folder, src in ((boot, root / "boot/firmware"), (data, root / "var/lib/ardoise")):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.move(src, folder)
        src.mkdir()
    return boot, data


def build_image(config: BuildConfig, out_dir: Path, cache_dir: Path,
                echo: Callable[[str], None] = print) -> BuildResult:
    progress = Progress(7, echo)
    with progress.stage("check"):
        check(config, out_dir, cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = cache_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    with arm64_emulation():
        root = build_root(config, cache_dir, work, progress)
    boot, data = split_partitions(root, work)
    with progress.stage("packs", cached=not config.packs):
        for source in config.packs:
            bake_pack(source, data, config.trusted_keys)
    image = out_dir / f"{config.name}-{config.version}.img"
    with progress.stage("assemble"):
        layout = partitions.plan(config.boot_mib, root, config.root_extra_mib, data,
                                 config.data_mib)
        partitions.assemble(image, layout, boot, root, data, work)
    result = BuildResult(image, [image])
    with progress.stage("outputs"):
        download = outputs.compress(image, config.compress)
        if download != image:
            result.files.append(download)
        if config.bmap and (bm := outputs.bmap(image)):
            result.files.append(bm)
        result.files.append(outputs.write_sums([image, download] if download != image
                                               else [image]))
        entry = outputs.imager_entry(image, download, config.name, config.version,
                                     config.imager_description, config.imager_url)
        result.files.append(outputs.write_imager_list(out_dir, entry))
    shutil.rmtree(work, ignore_errors=True)
    result.timings = progress.timings
    return result


def write_publisher_keys(folder: Path, keys: Sequence[str]) -> None:
    """One `NN-name.pub` (base64) per `name:BASE64` key: the format hubs read."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, value in enumerate(keys, 1):
        name, _, key = value.rpartition(":")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "publisher"
        (folder / f"{i:02d}-{safe}.pub").write_text(key + "\n")


def bake_pack(source: str, data_dir: Path, trusted_keys: Sequence[str]) -> None:
    """Install a pack into the data partition with the same verification as on a hub:
    every file's hash, and the manifest's signature by one of `trusted_keys`."""
    folder = Path(source)
    if source.startswith("rsync://"):
        folder = data_dir.parent / "pack-download"
        shutil.rmtree(folder, ignore_errors=True)
        _run(["rsync", "-a", source.rstrip("/") + "/", str(folder)])
    ardoise = Path(sys.executable).with_name("ardoise")
    keys = data_dir.parent / "bake-keys"
    shutil.rmtree(keys, ignore_errors=True)
    write_publisher_keys(keys, trusted_keys)
    settings = data_dir.parent / "bake.toml"
    settings.write_text(f"data_dir = {json.dumps(str(data_dir))}\n"
                        f"pack_trusted_keys = {json.dumps(str(keys))}\n")
    # Only this file decides where the pack goes: the build machine's ARDOISE_* variables
    # (a developer's data_dir, say) must not redirect it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARDOISE_")}
    _run([str(ardoise), "--config", str(settings), "pack", "install", str(folder)], env=env,
         inherit_env=False)


__all__ = ["BOOT_CHAIN_PACKAGES", "PACKAGES", "SYSTEM_PACKAGES", "BuildResult", "bootstrap",
           "build_image", "build_root", "check", "check_no_passwords", "configure",
           "host_mirror", "split_partitions"]
