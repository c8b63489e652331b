"""`ardoise demo`: seed the demo school, print how to sign in, serve the hub."""

from __future__ import annotations

from pathlib import Path

import click

from ardoise.cli import Context, pass_ctx
from ardoise.i18n import cli_locale, translate
from hub.demo import DEMO_PACK, seed_demo
from hub.serve import run


@click.command("demo")
@click.option("--pack", "pack_folder", type=click.Path(path_type=Path, file_okay=False),
              default=DEMO_PACK, show_default="demo/packs/decouverte",
              help="Pack folder to install the first time.")
@click.option("--students", type=click.IntRange(1, 200), default=30, show_default=True,
              help="Size of the demo class (first run only).")
@click.option("--no-serve", is_flag=True, help="Only seed and print the sign-in details.")
@pass_ctx
def demo_command(obj: Context, pack_folder: Path, students: int, no_serve: bool) -> None:
    """Run a demo hub: a school, a teacher, a class and the demo content.

    Sign-in details are generated at every run and printed here.
    """
    with obj.session() as s:
        demo = seed_demo(s, obj.data_dir, pack_folder=pack_folder, n_students=students)
        lang = cli_locale()
        host, port = obj.settings.host, obj.settings.port
        click.echo("")
        click.secho(translate("Ardoise demo hub", lang), bold=True)
        click.echo(translate("Address: %(url)s", lang, url=f"http://{host}:{port}/"))
        click.echo("")
        click.echo(translate("Teacher: username %(username)s, password %(password)s", lang,
                             username=demo.teacher.user.username,
                             password=demo.teacher.secret))
        click.echo(translate("Technician: username %(username)s, password %(password)s", lang,
                             username=demo.admin.user.username, password=demo.admin.secret))
        click.echo("")
        click.echo(translate("Students of %(classroom)s: choose the class, your name, then tap "
                             "the pictures of your code in order:", lang,
                             classroom=demo.classroom.name))
        for issued in demo.students:
            pictures = " ".join(translate(p.label, lang) for p in issued.pictures) or issued.secret
            click.echo(f"  {issued.user.full_name:<24} {pictures}")
        click.echo("")
        click.echo(translate("These details are new at every run of the demo.", lang))
    if not no_serve:
        obj.close()
        click.echo(translate("Serving on %(url)s (Ctrl+C to stop).", lang,
                             url=f"http://{host}:{port}/"))
        run(obj.settings)
