"""Everyone's screens in Chromium: signing in, one's profile and password, the
language, a phone's width."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from pialara_async.webapp import STATIC
from tests.accounts import PASSWORD, Account
from tests.browser.signing_in import sign_in, try_sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("role", ["admin", "technician", "client"])
async def test_every_role_changes_its_password_and_signs_in_with_it(
    page: Page, client: TestClient, role: str, make_account: Any, technician: Account,
) -> None:
    account = await make_account(f"{role}.person@pialara.example", role=role,
                                 technician=technician if role == "client" else None)
    await sign_in(page, client, account.email, PASSWORD)
    await page.get_by_role("link", name="Mi perfil").click()
    await expect(page.locator("#profile-email")).to_have_text(account.email)
    await page.get_by_role("link", name="Cambiar contraseña").click()
    await page.get_by_label("Contraseña actual").fill(PASSWORD)
    await page.get_by_label("Contraseña nueva").fill("una clave nueva")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.get_by_role("status")).to_have_text("Contraseña cambiada.")
    await page.get_by_role("button", name="Cerrar sesión").click()
    await expect(page.get_by_role("link", name="Iniciar sesión")).to_be_visible()
    await try_sign_in(page, client, account.email, PASSWORD)  # the old one no longer works
    await expect(page.locator("#error-password")).not_to_be_empty()
    await sign_in(page, client, account.email, "una clave nueva")
    await page.get_by_role("link", name="Mi perfil").click()
    await expect(page.locator("#profile-email")).to_have_text(account.email)


async def test_a_wrong_old_password_is_shown_next_to_its_field(
    page: Page, client: TestClient, technician: Account,
) -> None:
    await sign_in(page, client, technician.email, PASSWORD)
    await page.get_by_role("link", name="Mi perfil").click()
    await expect(page.locator("#profile-role")).to_have_text("Técnico")
    await page.get_by_role("link", name="Cambiar contraseña").click()
    await page.get_by_label("Contraseña actual").fill("not the password")
    await page.get_by_label("Contraseña nueva").fill("una clave nueva")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.locator("#error-old_password")).to_have_text("The password is not correct.")
    await expect(page.get_by_label("Contraseña actual")).to_have_attribute("aria-invalid", "true")


async def test_a_client_edits_their_profile(
    page: Page, client: TestClient, client_account: Account, db: Any,
) -> None:
    await sign_in(page, client, client_account.email, PASSWORD)
    await expect(page.locator("#profile-role")).to_have_text("Cliente")  # a client's home
    await expect(page.get_by_label("Patología")).to_have_value("dysarthria")
    await expect(page.get_by_label("Fecha de nacimiento")).to_have_value("1990-05-17")
    await expect(page.get_by_label("Sexo")).to_have_value("female")
    await page.get_by_label("Patología").fill("afasia")
    await page.get_by_label("Sexo").select_option(label="Otro")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.get_by_role("status")).to_have_text("Guardado.")
    stored = await db.users.find_one({"_id": client_account.id})
    assert stored["profile"]["pathology"] == "afasia"
    assert stored["profile"]["sex"] == "other"


async def test_a_birth_date_in_the_future_is_refused_next_to_its_field(
    page: Page, client: TestClient, client_account: Account, db: Any,
) -> None:
    await sign_in(page, client, client_account.email, PASSWORD)
    await page.get_by_label("Fecha de nacimiento").fill("2999-01-01")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.locator("#error-profile\\.birth_date")).to_have_text(
        "cannot be in the future")
    stored = await db.users.find_one({"_id": client_account.id})
    assert stored["profile"]["birth_date"].year == 1990


async def test_the_language_switch_and_the_browser_language(
    page: Page, client: TestClient, new_page: Any,
) -> None:
    await page.goto(str(client.make_url("/")))  # redirected to /app/
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    await page.get_by_label("Idioma").select_option("en")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert await page.evaluate("document.documentElement.lang") == "en"
    await page.reload()  # the choice is kept
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    english = await new_page(locale="en-GB")  # a browser that prefers English
    await english.goto(str(client.make_url("/app/")))
    await expect(english.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(english.get_by_label("Language")).to_have_value("en")


async def test_a_390_px_phone_needs_no_sideways_scrolling(
    new_page: Any, client: TestClient, admin: Account, client_account: Account,
) -> None:
    page = await new_page(viewport={"width": 390, "height": 844})
    await sign_in(page, client, admin.email, PASSWORD)
    for screen, ready in [("#/users", "#user-results table"), ("#/users/new", "form"),
                          (f"#/users/{client_account.id}", "form"), ("#/movies", "#movie-results"),
                          ("#/profile", "#profile-email")]:
        await page.goto(str(client.make_url(f"/app/{screen}")))
        await expect(page.locator(ready)).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390, screen
    # Keyboard: every control is reachable and shows where the focus is.
    await page.keyboard.press("Tab")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


async def test_signing_in_with_the_keyboard_alone(
    page: Page, client: TestClient, technician: Account,
) -> None:
    await page.goto(str(client.make_url("/app/")))
    await expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    await page.keyboard.press("Tab")  # first: the link past the header
    await expect(page.get_by_role("link", name="Saltar al contenido")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    assert page.url.endswith("#/login")  # the route stays
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Correo electrónico")).to_be_focused()
    await page.keyboard.type(technician.email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Mis clientes")).to_be_visible()


async def test_every_word_the_screens_use_exists_in_both_languages(
    page: Page, client: TestClient,
) -> None:
    await page.goto(str(client.make_url("/app/")))
    spanish, english = await page.evaluate(
        "import('/app/i18n.js')"
        ".then(m => [Object.keys(m.MESSAGES.es), Object.keys(m.MESSAGES.en)])")
    assert sorted(spanish) == sorted(english)
    used = {"admin", "technician", "client", "female", "male", "other",  # named by data
            "refused.technician_has_clients", "refused.last_admin"}  # by the API's codes
    used |= set(re.findall(r'data-t="(\w+)"', (STATIC / "index.html").read_text()))
    for module in STATIC.glob("*.js"):
        used |= set(re.findall(r'\bt\("([\w.]+)"', module.read_text()))
    assert used - set(spanish) == set()
