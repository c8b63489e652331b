"""Browser tests: a real hub served by waitress on loopback, driven in Debian's Chromium."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import waitress
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from waitress import wasyncore

from hub import create_app
from hub.db import database

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
TABLET = {"width": 800, "height": 1280}  # a 10" Android tablet / iPad portrait in CSS px
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    """As the suite-wide guard, but Playwright's event loop keeps its executor threads
    ("asyncio_N") for the whole session, until the browser fixture closes."""
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()
                and not t.daemon and not t.name.startswith("asyncio_")]
    for t in leftover:
        t.join(timeout=2)
    still = [t.name for t in leftover if t.is_alive()]
    assert not still, f"threads left running: {still}"


@dataclass
class LiveHub:
    app: Flask
    url: str


@pytest.fixture
def live_hub(data_dir: Path) -> Iterator[LiveHub]:
    """The app behind the production server, on a free loopback port, for one test."""
    app = create_app({"TESTING": True, "data_dir": str(data_dir)})
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="live-hub", daemon=False)
    thread.start()
    try:
        yield LiveHub(app, f"http://127.0.0.1:{server.effective_port}")
    finally:
        # Close the listener and every open keep-alive connection, so the loop ends.
        wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown()
        thread.join(timeout=10)
        database(app).engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def new_tablet(browser: Browser, locale: str = "fr-CA") -> BrowserContext:
    """A fresh tablet (its own cookies), at tablet size, in the given language."""
    return browser.new_context(viewport=TABLET, locale=locale, has_touch=True)


@pytest.fixture
def tablet(live_hub: LiveHub, browser: Browser) -> Iterator[Page]:
    ctx = new_tablet(browser)
    page = ctx.new_page()
    yield page
    ctx.close()


@pytest.fixture
def tablets(live_hub: LiveHub, browser: Browser) -> Iterator[Callable[[str], Page]]:
    """Make tablets (each with its own cookies) in a language; all closed at the end,
    before the live hub stops."""
    contexts: list[BrowserContext] = []

    def make(locale: str = "fr-CA") -> Page:
        ctx = new_tablet(browser, locale)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def screenshot(page: Page, name: str) -> None:
    """Save a screenshot of the page. With ARDOISE_UPDATE_SCREENSHOTS=1 it goes to
    docs/screenshots/ (what the docs show); otherwise to a scratch folder, so a test run
    leaves the working tree as it was."""
    if os.environ.get("ARDOISE_UPDATE_SCREENSHOTS") == "1":
        folder = DOCS_SCREENSHOTS
    else:
        folder = Path(tempfile.gettempdir()) / "ardoise-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
