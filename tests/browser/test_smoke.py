"""The hub answers a real browser at tablet size, in French by default."""

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import LiveHub

pytestmark = pytest.mark.browser


def test_home_in_french_then_english(live_hub: LiveHub, tablet: Page) -> None:
    tablet.goto(live_hub.url + "/")
    assert tablet.locator("html").get_attribute("lang") == "fr-CA"
    tablet.get_by_role("link", name="English").click()
    assert tablet.locator("html").get_attribute("lang") == "en"
