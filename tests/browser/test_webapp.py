"""PIA Lara's web interface in Chromium: what a person sees and does."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from tests.accounts import PASSWORD, Account

pytestmark = pytest.mark.browser


async def sign_in(page: Page, client: TestClient, email: str, password: str) -> None:
    await page.goto(str(client.make_url("/app/")))
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña", exact=True).fill(password)
    await page.get_by_role("button", name="Iniciar sesión").click()


@pytest.mark.parametrize("role", ["admin", "technician", "client"])
async def test_every_role_changes_its_password_and_signs_in_with_it(
    page: Page, client: TestClient, role: str, make_account: Any, technician: Account,
) -> None:
    account = await make_account(f"{role}.person@pialara.example", role=role,
                                 technician=technician if role == "client" else None)
    await sign_in(page, client, account.email, PASSWORD)
    await expect(page.locator("#profile-email")).to_have_text(account.email)
    await page.get_by_role("link", name="Cambiar contraseña").click()
    await page.get_by_label("Contraseña actual").fill(PASSWORD)
    await page.get_by_label("Contraseña nueva").fill("una clave nueva")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.get_by_role("status")).to_have_text("Contraseña cambiada.")
    await page.get_by_role("button", name="Cerrar sesión").click()
    await sign_in(page, client, account.email, PASSWORD)  # the old one no longer works
    await expect(page.locator("#error-password")).not_to_be_empty()
    await sign_in(page, client, account.email, "una clave nueva")
    await expect(page.locator("#profile-email")).to_have_text(account.email)


async def test_a_wrong_old_password_is_shown_next_to_its_field(
    page: Page, client: TestClient, technician: Account,
) -> None:
    await sign_in(page, client, technician.email, PASSWORD)
    await expect(page.locator("#profile-role")).to_have_text("Técnico")
    await page.get_by_role("link", name="Cambiar contraseña").click()
    await page.get_by_label("Contraseña actual").fill("not the password")
    await page.get_by_label("Contraseña nueva").fill("una clave nueva")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.locator("#error-old_password")).to_have_text("The password is not correct.")


async def test_a_client_edits_their_profile(
    page: Page, client: TestClient, client_account: Account, db: Any,
) -> None:
    await sign_in(page, client, client_account.email, PASSWORD)
    await expect(page.get_by_label("Patología")).to_have_value("dysarthria")
    await page.get_by_label("Patología").fill("afasia")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.get_by_role("status")).to_have_text("Guardado.")
    stored = await db.users.find_one({"_id": client_account.id})
    assert stored["profile"]["pathology"] == "afasia"


async def test_the_language_switch_and_the_browser_language(
    page: Page, client: TestClient,
) -> None:
    await page.goto(str(client.make_url("/")))  # redirected to /app/
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    await page.get_by_label("Idioma").select_option("en")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "en"
    await page.reload()  # the choice is kept
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_a_390_px_phone_needs_no_sideways_scrolling(
    page: Page, client: TestClient, admin: Account,
) -> None:
    await page.set_viewport_size({"width": 390, "height": 844})
    await sign_in(page, client, admin.email, PASSWORD)
    await expect(page.locator("#profile-email")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    # Keyboard: every control is reachable and shows where the focus is.
    await page.keyboard.press("Tab")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
