"""`ardoise image ...`: thin commands over the image library."""

from __future__ import annotations

from pathlib import Path

import click

from ardoise.i18n import cli_locale
from image_builder.build_config import BuildConfig, load_build_config
from image_builder.extract import default_cache_dir
from image_builder.firstboot.config import read_device_config
from image_builder.schema import render_problems


@click.group("image")
def image() -> None:
    """Build the SD-card image and check its settings file."""


@image.command("build")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="build.toml (default: all defaults).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("build/image"), show_default=True, help="Output folder.")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Reused between builds: the bootstrap and downloaded packages "
                   "(default: $XDG_CACHE_HOME/ardoise-image or ~/.cache/ardoise-image).")
@click.option("--base", "base_image", type=click.Path(path_type=Path, dir_okay=False,
                                                      exists=True),
              help="Customise this Raspberry Pi OS Lite image instead of bootstrapping.")
@click.option("--check", is_flag=True,
              help="Only validate the configuration and the prerequisites.")
def build(config_file: Path | None, out_dir: Path, cache_dir: Path | None,
          base_image: Path | None, check: bool) -> None:
    """Build a flashable image (or, with --check, say whether one can be built)."""
    from image_builder import pipeline

    cache_dir = cache_dir or default_cache_dir()
    config = load_build_config(config_file) if config_file else BuildConfig()
    if base_image is not None:
        config = BuildConfig(**{**config.__dict__, "base_image": base_image.resolve()})
    pipeline.check(config, out_dir, cache_dir)
    if check:
        click.echo("ok: build.toml and prerequisites")
        return
    result = pipeline.build_image(config, out_dir, cache_dir, echo=click.echo)
    for path in result.files:
        click.echo(str(path))


@image.command("try")
@click.argument("image_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--settings", "settings_file",
              type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="An ardoise.toml to put on the copy's boot partition first.")
@click.option("--port", type=int, default=8080, show_default=True,
              help="The hub answers on http://127.0.0.1:PORT/.")
@click.option("--work", "work_dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("build/try"), show_default=True,
              help="Where the copy of the image and the console log go.")
@click.option("--keep-running", is_flag=True,
              help="Leave the hub running until Ctrl+C (default: power off once it answers).")
def try_command(image_file: Path, settings_file: Path | None, port: int, work_dir: Path,
                keep_running: bool) -> None:
    """Boot a copy of an image under emulation (qemu -M virt) and time it until the hub
    answers; the image itself is not changed."""
    from image_builder import tryout

    if settings_file is not None:
        _, problems = read_device_config(settings_file)
        if problems:
            raise click.ClickException(
                f"{settings_file}:\n" + render_problems(problems, cli_locale()))
    tryout.try_image(image_file, work_dir, port, settings_file, keep_running=keep_running,
                     echo=click.echo)


@image.command("check-settings")
@click.argument("settings_file", type=click.Path(path_type=Path, dir_okay=False))
def check_settings(settings_file: Path) -> None:
    """Validate an ardoise.toml (e.g. on a card's boot partition) before first boot."""
    _, problems = read_device_config(settings_file)
    if problems:
        raise click.ClickException(
            f"{settings_file}:\n" + render_problems(problems, cli_locale()))
    click.echo(f"ok: {settings_file}")


__all__ = ["image"]
