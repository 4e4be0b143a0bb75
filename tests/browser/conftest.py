"""Real Chromium (Debian's package) driven by Playwright: ``make test-browser``."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright, expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A loaded 2-core CI machine is slower than a person's: assertions wait longer.
expect.set_options(timeout=15_000)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Any]:
    """A page that fails the test on any console error or uncaught exception."""
    context = await browser.new_context(locale="es-ES")
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    problems: list[str] = []
    def console(message: Any) -> None:
        # An API refusal the page shows (a wrong password: 401) is logged by
        # Chromium as a failed load; anything else is a defect.
        refused = message.text.startswith("Failed to load resource") and \
            "/api/v1/" in message.location.get("url", "")
        if message.type == "error" and not refused:
            problems.append(message.text)

    opened.on("console", console)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    await context.close()
    assert problems == []
