"""Failed sign-ins are limited per account and per address, in the database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ardoise.errors import RateLimited, Unauthorized
from hub.auth import Limits, authenticate_staff, authenticate_student, ratelimit
from hub.db import database
from hub.models import LoginAttempt
from tests.factories import World, csrf_token_of, give_code, give_password, make_world

CODE = "soleil-chat-lune-arbre"
WRONG = "arbre-lune-chat-soleil"
LIMITS = Limits(per_account=3, per_address=5, window_seconds=300)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def app_config(data_dir: Any) -> dict[str, Any]:
    return {"TESTING": True, "data_dir": str(data_dir), "login_attempts": 3,
            "login_attempts_per_address": 5, "login_window_seconds": 300}


@pytest.fixture
def s(app: Flask) -> Iterator[Session]:
    with database(app).sessions() as session:
        yield session


def _rows(s: Session, key: str | None = None) -> int:
    query = select(func.count()).select_from(LoginAttempt)
    if key is not None:
        query = query.where(LoginAttempt.key == key)
    return s.scalar(query) or 0


def _try(s: Session, w: World, i: int, code: str, at: dt.datetime,
         address: str = "127.0.0.9") -> Any:
    return authenticate_student(s, w.students[i].id, code, address=address, limits=LIMITS,
                                now=at)


def test_account_is_limited_then_freed_when_the_window_slides(app: Flask, s: Session) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    for k in range(3):
        with pytest.raises(Unauthorized):
            _try(s, w, 0, WRONG, T0 + dt.timedelta(seconds=k * 10))
    with pytest.raises(RateLimited) as err:  # even the right code is refused now
        _try(s, w, 0, CODE, T0 + dt.timedelta(seconds=60))
    assert err.value.status == 429
    assert err.value.params["retry_after_seconds"] == 240  # first failure + 300 s
    assert err.value.params["minutes"] == 4
    assert "4 min" in err.value.render("en") and "Réessayez" in err.value.render("fr_CA")
    # the first failure leaves the window: one more try is allowed, and it succeeds
    user = _try(s, w, 0, CODE, T0 + dt.timedelta(seconds=301))
    assert user.id == w.students[0].id


def test_success_clears_the_account_but_not_the_address(app: Flask, s: Session) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    for k in range(2):
        with pytest.raises(Unauthorized):
            _try(s, w, 0, WRONG, T0 + dt.timedelta(seconds=k))
    account = ratelimit.account_key(w.students[0].id)
    assert _rows(s, account) == 2
    _try(s, w, 0, CODE, T0 + dt.timedelta(seconds=5))
    assert _rows(s, account) == 0
    assert _rows(s, ratelimit.address_key("127.0.0.9")) == 2


def test_address_is_limited_across_accounts(app: Flask, s: Session) -> None:
    w = make_world(app, n_students=3)
    for i in range(3):
        give_code(app, w.students[i], CODE)
    for i in (0, 0, 1, 1, 2):
        with pytest.raises(Unauthorized):
            _try(s, w, i, WRONG, T0)
    with pytest.raises(RateLimited) as err:
        _try(s, w, 2, CODE, T0)
    assert "device" in err.value.render("en")
    assert _try(s, w, 2, CODE, T0, address="127.0.0.10").id == w.students[2].id


def test_unknown_username_counts_too(app: Flask, s: Session) -> None:
    make_world(app)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            authenticate_staff(s, "nobody", "whatever-password", address="127.0.0.9",
                               limits=LIMITS, now=T0)
    with pytest.raises(RateLimited):
        authenticate_staff(s, "nobody", "whatever-password", address="127.0.0.9",
                           limits=LIMITS, now=T0)


def test_staff_account_limit(app: Flask, s: Session) -> None:
    w = make_world(app)
    give_password(app, w.teacher, "le tableau noir")
    for _ in range(3):
        with pytest.raises(Unauthorized):
            authenticate_staff(s, "mme.roy", "le tableau blanc", address="127.0.0.9",
                               limits=LIMITS, now=T0)
    with pytest.raises(RateLimited):
        authenticate_staff(s, "mme.roy", "le tableau noir", address="127.0.0.11",
                           limits=LIMITS, now=T0)


def test_old_and_future_rows_are_pruned(app: Flask, s: Session) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    s.add_all([LoginAttempt(key="account:old", at=T0 - dt.timedelta(days=3)),
               LoginAttempt(key="account:future", at=T0 + dt.timedelta(days=300))])
    s.commit()
    with pytest.raises(Unauthorized):
        _try(s, w, 0, WRONG, T0)
    assert _rows(s, "account:old") == 0
    assert _rows(s, "account:future") == 0
    assert _rows(s) == 2  # the new failure, for the account and for the address


def test_clock_set_back_does_not_lock_anyone_out(app: Flask, s: Session) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            _try(s, w, 0, WRONG, T0)
    # the clock jumps back a year (power cut, no RTC): those failures are "in the future"
    assert _try(s, w, 0, CODE, T0 - dt.timedelta(days=365)).id == w.students[0].id


# -- over HTTP, across requests (the count lives in the database) ---------------------------

def _post(client: FlaskClient, w: World, code: str, lang: str | None = None) -> Any:
    page = client.get(f"/signin/student/{w.students[0].id}")
    return client.post(f"/signin/student/{w.students[0].id}",
                       data={"csrf_token": csrf_token_of(page.get_data(as_text=True)),
                             "code": code})


def test_form_answers_429_with_when_to_try_again(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_code(app, w.students[0], CODE)
    for _ in range(3):
        assert _post(client, w, WRONG).status_code == 401
    r = _post(client, w, CODE)
    assert r.status_code == 429
    assert "Réessayez dans 5 min" in r.get_data(as_text=True)
    client.get("/lang/en")
    r = _post(client, w, CODE)
    assert r.status_code == 429 and "Try again in 5 min" in r.get_data(as_text=True)


def test_api_answers_429_in_the_error_shape(app: Flask, client: FlaskClient) -> None:
    w = make_world(app)
    give_password(app, w.teacher, "le tableau noir")
    token = client.get("/api/v1/session").get_json()["csrf_token"]
    body = {"username": "mme.roy", "password": "pas le bon"}
    for _ in range(3):
        r = client.post("/api/v1/session", json=body, headers={"X-CSRFToken": token})
        assert r.status_code == 401
    r = client.post("/api/v1/session", json={**body, "password": "le tableau noir"},
                    headers={"X-CSRFToken": token})
    assert r.status_code == 429
    err = r.get_json()["error"]
    assert err["code"] == "rate_limited" and err["details"]["retry_after_seconds"] > 0
    assert "Réessayez" in err["message"]
