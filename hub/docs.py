"""Reference pages generated from the single declarations (settings, commands), so the
docs cannot drift: tests/hub/test_docs.py fails when docs/ differs from these."""

from __future__ import annotations

import click

from ardoise.settings import SETTINGS


def settings_markdown() -> str:
    lines = [
        "# Settings",
        "",
        "Generated from `ardoise/settings.py` by `script/docs`; do not edit by hand.",
        "",
        "Settings are read from `/etc/ardoise/ardoise.toml` (or the file given with `--config`),",
        "then from `ARDOISE_<NAME>` environment variables, which win. `ardoise config list`",
        "shows the values in force and where each came from.",
        "",
        "| name | default | variable | what it does |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = "(generated)" if s.secret else (f"`{s.default}`" if s.default != "" else "")
        extra = f" One of: {', '.join(s.choices)}." if s.choices else ""
        lines.append(f"| `{s.name}` | {default} | `{s.env}` | {s.help}{extra} |")
    return "\n".join(lines) + "\n"


def commands_markdown(root: click.Group) -> str:
    lines = ["# Commands", "",
             "Generated from the `ardoise` command by `script/docs`; do not edit by hand.", ""]

    def walk(cmd: click.Command, path: list[str]) -> None:
        name = " ".join(path)
        ctx = click.Context(cmd, info_name=name, terminal_width=100, max_content_width=100)
        lines.append(f"## `{name}`")
        lines.append("")
        lines.append("```")
        lines.append(cmd.get_help(ctx).rstrip())
        lines.append("```")
        lines.append("")
        if isinstance(cmd, click.Group):
            for sub in sorted(cmd.list_commands(ctx)):
                child = cmd.get_command(ctx, sub)
                if child is not None and not child.hidden:
                    walk(child, [*path, sub])

    walk(root, ["ardoise"])
    return "\n".join(lines)
