"""Screenshots of the web interface for the README: ``make screenshots``.

Runs what ``make run`` runs, on a fresh embedded database of its own (demo
data, the three demo accounts), adds a few clients and comments, and photographs
the main screens in Chromium on a desktop and on a 390-px phone, into
``docs/images/``.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import tempfile
from pathlib import Path

import aiohttp
from playwright.async_api import Page, async_playwright, expect

from pialara_async.readiness import wait_until_ready

IMAGES = Path(__file__).parent / "images"
CHROMIUM = "/usr/bin/chromium"
SIZES = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}
ACCOUNT = re.compile(r"^\s+(admin|technician|client)\s+(\S+)\s+(\S+)$", re.MULTILINE)
CLIENTS = [("Lucía Martín", "female", "1951-02-11", "afasia"),
           ("Jorge Ruiz", "male", "1979-09-30", "disartria"),
           ("Marta Gil", "female", "2008-06-05", "tartamudez")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


COMMAND = str(Path(sys.executable).with_name("pialara-async"))


async def seed(env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        COMMAND, "seed", "--movies", "300", "--comments", "600", env=env,
        stdout=asyncio.subprocess.PIPE)
    printed, _ = await process.communicate()
    if process.returncode:
        raise SystemExit(f"seed failed ({process.returncode})")
    return printed.decode()


async def api(session: aiohttp.ClientSession, method: str, path: str, token: str = "",
              **body: object) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.request(method, path, json=body or None, headers=headers) as response:
        response.raise_for_status()
        return await response.json()


async def prepare(base: str, accounts: dict[str, tuple[str, str]]) -> str:
    """Clients for the technician and comments on a movie; that movie's id."""
    async with aiohttp.ClientSession(base) as session:
        tokens = {}
        for role, (email, password) in accounts.items():
            answer = await api(session, "POST", "/api/v1/user/login", email=email,
                               password=password)
            tokens[role] = answer["auth_token"]
        for n, (name, sex, birth, pathology) in enumerate(CLIENTS):
            await api(session, "POST", "/api/v1/users", tokens["technician"], name=name,
                      email=f"cliente{n}@pialara.example", password="una clave larga",
                      role="client", profile={"sex": sex, "birth_date": birth,
                                              "pathology": pathology})
        movie = (await api(session, "GET", "/api/v1/movies/"))["movies"][0]["_id"]
        for role, text in [("technician", "La vimos en la sesión de los jueves: muy recomendable."),
                           ("client", "Me gustó mucho la música.")]:
            await api(session, "POST", "/api/v1/movies/comment", tokens[role],
                      movie_id=movie, comment=text)
        return movie


async def sign_in(page: Page, base: str, email: str, password: str) -> None:
    await page.goto(f"{base}/app/#/login")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña", exact=True).fill(password)
    await page.get_by_role("button", name="Iniciar sesión").click()
    await expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()


SCREENS = {
    "admin": [("users", "#/users", "#user-results table"),
              ("new-client", "#/users/new", "form")],
    "technician": [("clients", "#/clients", "#client-results table"),
                   ("movie", "#/movies/{movie}", "#comments li")],
    "client": [("profile", "#/profile", "#profile-email"),
               ("movies", "#/movies", "#movie-results li")],
}


async def show(page: Page, name: str, device: str) -> None:
    """What each screen's picture shows beyond its first view."""
    if name == "new-client":
        await expect(page.get_by_role("heading", name="Nuevo usuario")).to_be_visible()
        await page.get_by_label("Rol").select_option("client")
    if name == "movie" and device == "phone":
        await page.locator("#comments-heading").scroll_into_view_if_needed()


async def photograph(base: str, accounts: dict[str, tuple[str, str]], movie: str) -> list[Path]:
    taken = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)
        for device, viewport in SIZES.items():
            for role, screens in SCREENS.items():
                context = await browser.new_context(locale="es-ES", viewport=viewport)
                page = await context.new_page()
                await sign_in(page, base, *accounts[role])
                for name, address, ready in screens:
                    await page.goto(f"{base}/app/{address.format(movie=movie)}")
                    await show(page, name, device)
                    await expect(page.locator(ready).first).to_be_visible()
                    await page.wait_for_timeout(300)  # the live status settles
                    path = IMAGES / f"{name}-{device}.png"
                    await page.screenshot(path=path)
                    taken.append(path)
                await context.close()
        await browser.close()
    return taken


async def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "PIALARA_DATA_DIR": data_dir, "PIALARA_SERVER__PORT": str(port),
               "PIALARA_SERVER__ACCESS_LOG": "false"}
        printed = await seed(env)
        accounts = {role: (email, password) for role, email, password in ACCOUNT.findall(printed)}
        server = await asyncio.create_subprocess_exec(COMMAND, "serve", env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            await wait_until_ready(base, process=server)
            movie = await prepare(base, accounts)
            for path in await photograph(base, accounts, movie):
                print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 30)


if __name__ == "__main__":
    asyncio.run(main())
