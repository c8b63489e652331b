"""The shortcuts that make the students' pages cheaper give what the slower way gave:
template `_()` as Jinja's newstyle gettext, remembered links as `url_for`, reused CSRF
tokens that Flask-WTF accepts, remembered dates as Flask-Babel's filter, the student's list
as the ORM would see it; and the web app does not load the heavy libraries it has no use
for at start."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask, render_template_string, session, url_for
from flask_babel import format_datetime, gettext
from jinja2 import Environment
from wtforms import ValidationError

from hub import db, i18n, templating
from hub.classwork.worklist import WorkStatus, worklist
from hub.models import Submission
from tests.factories import make_assignment, make_world


@contextmanager
def request_in(app: Flask, lang: str, **kw: object) -> Iterator[None]:
    """A request whose page is in `lang` (chosen on the tablet, as the language links do)."""
    with app.test_request_context(**kw):  # type: ignore[arg-type]
        session["lang"] = lang
        yield


@pytest.mark.parametrize("lang", ["fr_CA", "en"])
def test_template_gettext_is_jinjas_newstyle_gettext(app: Flask, lang: str) -> None:
    jinja = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    jinja.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=gettext, ngettext=lambda s, p, n: s, newstyle=True)
    cases = ['{{ _("My work") }}', '{{ _("Due %(date)s", date="<b>lundi</b>") }}',
             '{{ _("100%% done") }}', '{{ _("Nothing to do for now.") }}']
    with request_in(app, lang):
        for source in cases:
            expected = jinja.from_string(source).render()
            assert app.jinja_env.from_string(source).render() == expected, source
        assert app.jinja_env.globals["_"] is i18n.template_gettext
    # in French the strings are translated, and values are escaped, not the template text
    with request_in(app, "fr_CA"):
        page = app.jinja_env.from_string('{{ _("Due %(date)s", date="<b>") }}').render()
        assert "&lt;b&gt;" in page and not page.startswith("Due")


def test_remembered_links_are_flasks_links(app: Flask) -> None:
    world = make_world(app)
    a = make_assignment(app, world)
    calls = [("student.assignment", {"assignment_id": a.id}), ("static", {"filename": "x.css"}),
             ("home.set_language", {"code": "en", "next": "/student/?a=1&b=é"}),
             ("student.home", {})]
    for root in ("", "/ardoise"):
        with app.test_request_context(environ_overrides={"SCRIPT_NAME": root}):
            for endpoint, values in calls:
                link = templating.template_url_for(endpoint, **values)
                assert link == url_for(endpoint, **values) and link.startswith(f"{root}/")
            # anything beyond a plain link goes to Flask as it is
            assert templating.template_url_for("student.home", _external=True) == url_for(
                "student.home", _external=True)
            assert templating.template_url_for("student.home", _anchor="todo").endswith("/#todo")
    assert app.jinja_env.globals["url_for"] is templating.template_url_for
    assert len(app.extensions["ardoise.links"]) == 2 * len(calls)  # per mount point


def test_reused_csrf_tokens_are_the_sessions_and_accepted(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask_wtf.csrf import generate_csrf, validate_csrf

    now = [1_800_000_000.0]
    signed: list[str] = []

    def counted() -> str:
        signed.append(generate_csrf())
        return signed[-1]

    monkeypatch.setattr(templating, "clock", lambda: now[0])
    monkeypatch.setattr(templating, "generate_csrf", counted)
    with app.test_request_context():
        first = templating.template_csrf_token()  # the session's first: its secret is made
        secret = session["csrf_token"]
        validate_csrf(first)
    tokens = []
    for _ in range(2):
        with app.test_request_context():
            session["csrf_token"] = secret
            tokens.append(templating.template_csrf_token())
            validate_csrf(tokens[-1])  # raises if Flask-WTF refuses it
    assert len(signed) == 2 and tokens[0] == tokens[1]  # signed once within the minute
    now[0] += templating.TOKEN_REUSE_SECONDS
    with app.test_request_context():  # what a page's form gets, a minute later
        session["csrf_token"] = secret
        later = render_template_string("{{ csrf_token() }}")
        validate_csrf(later)
        assert render_template_string("{{ csrf_token() }}") == later
    assert len(signed) == 3  # signed again for the new minute, then reused
    with app.test_request_context():
        session["csrf_token"] = "another session's secret"
        other = templating.template_csrf_token()
        validate_csrf(other)
    assert len(signed) == 4 and other not in tokens
    with app.test_request_context():
        session["csrf_token"] = secret
        with pytest.raises(ValidationError):
            validate_csrf(other)  # a token never passes for another session
    assert app.jinja_env.globals["csrf_token"] is templating.template_csrf_token


def test_remembered_dates_are_flask_babels(app: Flask) -> None:
    when = dt.datetime(2026, 11, 21, 18, 5, tzinfo=dt.UTC)
    texts = {}
    for lang in ("fr_CA", "en"):
        for fmt in (None, "short", "medium", "long", "yyyy-MM-dd HH:mm"):
            with request_in(app, lang):
                expected = format_datetime(when, fmt)
                assert i18n.datetimeformat(when, fmt) == expected
                assert i18n.datetimeformat(when, fmt) == expected  # remembered
                texts[lang, fmt] = expected
    assert texts["fr_CA", "short"] != texts["en", "short"]  # the language is in the key


def test_the_students_list_sees_the_callers_pending_changes(app: Flask) -> None:
    world = make_world(app)
    a = make_assignment(app, world, due_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    student = world.students[0]
    with db.database(app).sessions() as s:
        assert [i.status for i in worklist(s, student.id).todo] == [WorkStatus.TODO]
        s.add(Submission(school_id=a.school_id, classroom_id=a.classroom_id,
                         assignment_id=a.id, student_id=student.id, text="fini"))
        done = worklist(s, student.id).done  # not committed: flushed as Session.execute would
        assert [(i.id, i.status) for i in done] == [(a.id, WorkStatus.HANDED_IN)]
        s.rollback()


def test_the_web_app_leaves_heavy_libraries_unloaded(data_dir: Path) -> None:
    heavy = ("alembic", "cryptography", "zeroconf", "segno", "libzim", "PIL")
    code = ("import json, sys; from hub.app import create_app; create_app(); "
            f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True, env={"ARDOISE_DATA_DIR": str(data_dir),
                                                        "PATH": "/usr/bin:/bin"})
    assert json.loads(done.stdout) == []
