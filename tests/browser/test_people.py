"""PIA Lara's people in Chromium: an administrator's users, a technician's
clients, each list following the live feed."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Page, expect

from tests.accounts import PASSWORD, Account
from tests.browser.signing_in import sign_in

pytestmark = pytest.mark.browser


def thirty_years_ago() -> datetime.date:
    # 1 January: the birthday is always reached, so the age is exactly 30.
    return datetime.date(datetime.date.today().year - 30, 1, 1)


async def fill_user(page: Page, *, name: str, email: str, role: str) -> None:
    await page.get_by_role("link", name="Nuevo usuario").click()
    await page.get_by_label("Nombre").fill(name)
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_label("Rol").select_option(role)


async def test_an_administrator_creates_a_technician_and_their_client_whom_the_technician_sees(
    new_page: Any, client: TestClient, admin: Account, db: Any,
) -> None:
    page = await new_page()
    await sign_in(page, client, admin.email, PASSWORD)
    await expect(page.get_by_role("heading", name="Usuarios")).to_be_visible()

    await fill_user(page, name="Teresa Técnica", email="teresa@pialara.example", role="technician")
    # A technician has no technician and no profile.
    await expect(page.get_by_label("Técnico")).to_be_hidden()
    await expect(page.get_by_label("Patología")).to_be_hidden()
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.locator("#announcer")).to_have_text("Creado.")
    teresa = page.get_by_role("row").filter(has_text="teresa@pialara.example")
    await expect(teresa).to_contain_text("Técnico")

    await fill_user(page, name="Carlos Cliente", email="carlos@pialara.example", role="client")
    await page.get_by_label("Técnico").select_option(
        label="Teresa Técnica (teresa@pialara.example)")
    await page.get_by_label("Sexo").select_option(label="Hombre")
    await page.get_by_label("Fecha de nacimiento").fill(thirty_years_ago().isoformat())
    await page.get_by_label("Patología").fill("afasia")
    await page.get_by_role("button", name="Guardar").click()
    carlos = page.get_by_role("row").filter(has_text="carlos@pialara.example")
    await expect(carlos).to_contain_text("Cliente")
    await expect(carlos).to_contain_text("Teresa Técnica")

    technician = await new_page()
    await sign_in(technician, client, "teresa@pialara.example", PASSWORD)
    await expect(technician.get_by_role("heading", name="Mis clientes")).to_be_visible()
    row = technician.get_by_role("row").filter(has_text="Carlos Cliente")
    await expect(row.get_by_role("cell")).to_have_text(
        ["Carlos Cliente", "Hombre", "30", "afasia", "Editar"])


async def test_a_client_edits_their_profile_and_the_technicians_open_list_changes(
    new_page: Any, client: TestClient, technician: Account, client_account: Account,
) -> None:
    watching = await new_page()
    await sign_in(watching, client, technician.email, PASSWORD)
    row = watching.locator(f"#client-{client_account.id}")
    await expect(row).to_contain_text("dysarthria")
    await watching.evaluate("window.notReloaded = true")

    person = await new_page()
    await sign_in(person, client, client_account.email, PASSWORD)
    await person.get_by_label("Patología").fill("tartamudez")
    await person.get_by_role("button", name="Guardar").click()
    await expect(person.get_by_role("status")).to_have_text("Guardado.")

    await expect(row).to_contain_text("tartamudez")  # without a reload
    assert await watching.evaluate("window.notReloaded") is True


async def test_an_administrators_list_changes_when_someone_else_adds_a_user(
    page: Page, client: TestClient, admin: Account, technician: Account,
) -> None:
    await sign_in(page, client, admin.email, PASSWORD)
    await expect(page.locator(f"#user-{technician.id}")).to_be_visible()
    created = await client.post("/api/v1/users", headers=technician.headers, json={
        "name": "Nuria Nueva", "email": "nuria@pialara.example", "password": PASSWORD,
        "role": "client"})
    assert created.status == 201
    await expect(page.get_by_role("row").filter(has_text="nuria@pialara.example")).to_contain_text(
        "Cliente")


async def test_deleting_a_technician_with_clients_or_the_last_admin_shows_why_not(
    page: Page, client: TestClient, admin: Account, technician: Account,
    client_account: Account, db: Any,
) -> None:
    await sign_in(page, client, admin.email, PASSWORD)
    row = page.locator(f"#user-{technician.id}")
    await row.get_by_role("button", name="Eliminar").click()
    await row.get_by_role("button", name="Sí, eliminar").click()
    await expect(row.get_by_role("alert")).to_have_text(
        "Este técnico aún tiene clientes: asígnalos antes a otro técnico.")
    assert await db.users.count_documents({"_id": technician.id}) == 1

    mine = page.locator(f"#user-{admin.id}")
    await mine.get_by_role("button", name="Eliminar").click()
    await mine.get_by_role("button", name="Sí, eliminar").click()
    await expect(mine.get_by_role("alert")).to_have_text(
        "Es el último administrador: nombra antes a otro administrador.")

    # A client can go; the row leaves the list.
    gone = page.locator(f"#user-{client_account.id}")
    await gone.get_by_role("button", name="Eliminar").click()
    await gone.get_by_role("button", name="Sí, eliminar").click()
    await expect(gone).to_have_count(0)
    assert await db.users.count_documents({"_id": client_account.id}) == 0


async def test_an_administrator_searches_filters_and_pages_the_users(
    page: Page, client: TestClient, admin: Account, db: Any,
) -> None:
    await db.users.insert_many([
        {"name": f"Persona {n:02d}", "email": f"persona{n:02d}@pialara.example",
         "password": "not a login", "role": "technician"} for n in range(25)])
    sockets: list[Any] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    await sign_in(page, client, admin.email, PASSWORD)
    await expect(page.locator(".page-status")).to_have_text("Página 1 de 2 · 26 resultados")
    await page.get_by_label("Rol").select_option("technician")
    await page.get_by_role("button", name="Buscar").click()
    await expect(page.locator(".page-status")).to_have_text("Página 1 de 2 · 25 resultados")
    await expect(page.locator("tbody tr")).to_have_count(20)
    await page.get_by_role("link", name="Siguiente").click()
    await expect(page.locator(".page-status")).to_have_text("Página 2 de 2 · 25 resultados")
    await expect(page.locator("tbody tr")).to_have_count(5)
    await expect(page.locator("tbody tr").first).to_contain_text("Persona 20")
    await page.get_by_label("Buscar").fill("persona07")
    await page.get_by_role("button", name="Buscar").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(page.locator("tbody tr")).to_contain_text("persona07@pialara.example")
    await page.go_back()  # the search is in the address: back returns to page 2
    await expect(page.locator(".page-status")).to_have_text("Página 2 de 2 · 25 resultados")
    # One websocket for the whole visit: screens change their topics on it.
    assert len(sockets) == 1


async def test_an_administrator_moves_a_client_to_another_technician(
    page: Page, client: TestClient, admin: Account, technician: Account,
    other_technician: Account, client_account: Account, db: Any,
) -> None:
    await sign_in(page, client, admin.email, PASSWORD)
    await page.locator(f"#user-{client_account.id}").get_by_role("link", name="Editar").click()
    await expect(page.get_by_role("heading", name="Editar usuario")).to_be_visible()
    await expect(page.get_by_label("Patología")).to_have_value("dysarthria")
    await page.get_by_label("Técnico").select_option(str(other_technician.id))
    await page.get_by_label("Nombre").fill("Clara Cliente")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.locator(f"#user-{client_account.id}")).to_contain_text("Clara Cliente")
    stored = await db.users.find_one({"_id": client_account.id})
    assert stored["technician_id"] == other_technician.id
    assert stored["profile"]["pathology"] == "dysarthria"


async def test_an_email_taken_is_shown_next_to_its_field(
    page: Page, client: TestClient, admin: Account, technician: Account,
) -> None:
    await sign_in(page, client, admin.email, PASSWORD)
    await fill_user(page, name="Otra", email=technician.email, role="technician")
    await page.get_by_role("button", name="Guardar").click()
    await expect(page.locator("#error-email")).to_have_text(
        "A user with the given email already exists.")
    await expect(page.get_by_role("heading", name="Nuevo usuario")).to_be_visible()


async def test_a_technician_creates_and_edits_a_client(
    page: Page, client: TestClient, technician: Account, db: Any,
) -> None:
    await sign_in(page, client, technician.email, PASSWORD)
    await page.get_by_role("link", name="Nuevo cliente").click()
    await expect(page.get_by_label("Rol")).to_have_count(0)  # always a client of theirs
    await page.get_by_label("Nombre").fill("Pablo Paciente")
    await page.get_by_label("Correo electrónico").fill("pablo@pialara.example")
    await page.get_by_label("Contraseña").fill(PASSWORD)
    await page.get_by_label("Fecha de nacimiento").fill(thirty_years_ago().isoformat())
    await page.get_by_role("button", name="Guardar").click()
    row = page.get_by_role("row").filter(has_text="Pablo Paciente")
    await expect(row).to_contain_text("30")

    await row.get_by_role("link", name="Editar").click()
    await page.get_by_label("Sexo").select_option(label="Hombre")
    await page.get_by_label("Patología").fill("disfonía")
    await page.get_by_role("button", name="Guardar").click()
    await expect(row.get_by_role("cell")).to_have_text(
        ["Pablo Paciente", "Hombre", "30", "disfonía", "Editar"])
    stored = await db.users.find_one({"email": "pablo@pialara.example"})
    assert stored["technician_id"] == technician.id
    assert stored["role"] == "client"


async def test_each_role_sees_only_its_screens(
    page: Page, client: TestClient, client_account: Account,
) -> None:
    await sign_in(page, client, client_account.email, PASSWORD)
    await expect(page.get_by_role("link", name="Usuarios")).to_have_count(0)
    await page.goto(str(client.make_url("/app/#/users")))
    await expect(page).to_have_url(str(client.make_url("/app/#/profile")))
    await expect(page.locator("#profile-role")).to_have_text("Cliente")


async def test_an_administrator_demoted_meanwhile_is_taken_to_a_technicians_screen(
    page: Page, client: TestClient, make_account: Any,
) -> None:
    first = await make_account("primera@pialara.example", role="admin")
    second = await make_account("segunda@pialara.example", role="admin")
    await sign_in(page, client, first.email, PASSWORD)
    await expect(page.get_by_role("heading", name="Usuarios")).to_be_visible()
    demoted = await client.patch(f"/api/v1/users/{first.id}", headers=second.headers,
                                 json={"role": "technician"})
    assert demoted.status == 200
    # The live feed takes the users topic away; the page reads the role again.
    await expect(page.get_by_role("heading", name="Mis clientes")).to_be_visible()
    await expect(page.get_by_role("link", name="Usuarios")).to_have_count(0)


async def test_an_english_browser_gets_english_screens_and_refusals(
    new_page: Any, client: TestClient, admin: Account, technician: Account,
    client_account: Account,
) -> None:
    page = await new_page(locale="en-US")
    await page.goto(str(client.make_url("/app/")))
    await page.get_by_label("E-mail").fill(admin.email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Users")).to_be_visible()
    row = page.locator(f"#user-{technician.id}")
    await expect(row.get_by_role("cell").nth(2)).to_have_text("Technician")
    await row.get_by_role("button", name="Delete").click()
    await row.get_by_role("button", name="Yes, delete").click()
    await expect(row.get_by_role("alert")).to_have_text(
        "This technician still has clients: assign them to another technician first.")
    await page.get_by_label("Language").select_option("es")  # and back, in place
    await expect(page.get_by_role("heading", name="Usuarios")).to_be_visible()
    await expect(row.get_by_role("cell").nth(2)).to_have_text("Técnico")


async def test_a_technician_opening_someone_elses_client_is_told_it_is_not_theirs(
    page: Page, client: TestClient, other_technician: Account, client_account: Account,
) -> None:
    await sign_in(page, client, other_technician.email, PASSWORD)
    await expect(page.get_by_role("heading", name="Mis clientes")).to_be_visible()
    await page.goto(str(client.make_url(f"/app/#/clients/{client_account.id}")))
    await expect(page.get_by_role("alert")).to_have_text("No existe, o no puedes verlo.")
    await expect(page.get_by_label("Patología")).to_have_count(0)
