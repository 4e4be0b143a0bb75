"""Real Chromium (Debian's package) driven by Playwright: ``make test-browser``."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A loaded 2-core CI machine is slower than a person's: assertions wait longer.
expect.set_options(timeout=15_000)

NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        await launched.close()


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """Pages of their own browser contexts (a person each), which fail the test
    on any console error or uncaught exception."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def console(message: Any) -> None:
        # An API refusal the page shows (a wrong password: 401) is logged by
        # Chromium as a failed load; anything else is a defect.
        refused = message.text.startswith("Failed to load resource") and \
            "/api/v1/" in message.location.get("url", "")
        if message.type == "error" and not refused:
            problems.append(message.text)

    async def open_page(locale: str = "es-ES", **options: Any) -> Page:
        context = await browser.new_context(locale=locale, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = await context.new_page()
        page.on("console", console)
        page.on("pageerror", lambda error: problems.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        await context.close()
    assert problems == []


@pytest.fixture
async def page(new_page: NewPage) -> Page:
    return await new_page()
