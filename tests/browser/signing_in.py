"""What the browser journeys share: signing in."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect


async def try_sign_in(page: Page, client: TestClient, email: str, password: str) -> None:
    await page.goto(str(client.make_url("/app/#/login")))
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña", exact=True).fill(password)
    await page.get_by_role("button", name="Iniciar sesión").click()


async def sign_in(page: Page, client: TestClient, email: str, password: str) -> None:
    await try_sign_in(page, client, email, password)
    await expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
