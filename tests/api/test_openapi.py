"""The OpenAPI description and its offline docs page."""

from __future__ import annotations

import json
import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from pialara_async.api import errors, people
from pialara_async.api.endpoint import ATTRIBUTE
from pialara_async.refusals import EmailTaken, LastAdmin, NotFound, TechnicianRequired

# The document and its own page, and the web interface's pages, are no API.
UNDESCRIBED = ("/api/v1/openapi.json", "/api/v1/docs", "/app")


def all_resources(app: web.Application) -> list[web.AbstractResource]:
    found: list[web.AbstractResource] = []
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            found += all_resources(resource._app)
        else:
            found.append(resource)
    return found


async def test_openapi_describes_the_routes(client: TestClient) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    assert "/health" in document["paths"]
    ready = document["paths"]["/ready"]["get"]
    assert set(ready["responses"]) >= {"200", "503"}
    schema_ref = ready["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.rsplit("/", 1)[1] in document["components"]["schemas"]


async def test_docs_page_serves_its_assets_locally(client: TestClient) -> None:
    page = await client.get("/api/v1/docs")
    assert page.status == 200
    html = await page.text()
    assert "http://" not in html
    assert "https://" not in html
    for asset in ("docs/static/swagger-ui-bundle.js", "docs/static/swagger-ui.css"):
        assert asset in html
        served = await client.get(f"/api/v1/{asset}")
        assert served.status == 200
        assert len(await served.read()) > 10_000


async def test_every_route_is_declared_and_described_exactly(client: TestClient) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    # Each route under its own path, the prefix once.
    assert "/api/v1/movies/" in paths
    assert not [p for p in paths if p.startswith("/api/v1/api/v1")]
    described = {(path, method.upper()) for path, item in paths.items() for method in item}
    for resource in all_resources(client.app):
        for route in resource:
            if route.method in ("HEAD", "OPTIONS") or resource.canonical == "/" or \
                    resource.canonical.startswith(UNDESCRIBED):
                continue
            assert getattr(route.handler, ATTRIBUTE, None) is not None, resource.canonical
            assert (resource.canonical, route.method) in described
    text = json.dumps(document)
    for keyword in ('"ge"', '"le"', '"gt"', '"lt"'):
        assert keyword not in text  # not JSON Schema: minimum, maximum…
    for path, item in paths.items():
        for method, operation in item.items():
            # Path parameters declared, every error with the error schema.
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)", path)), (method, path)
            for status, response in operation["responses"].items():
                if status == "default" or int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]["$ref"]
                    assert schema.startswith("#/components/schemas/"), (method, path, status)


async def test_the_declaration_states_what_the_route_enforces(client: TestClient) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    users = document["paths"]["/api/v1/users"]["get"]
    assert users["security"] == [{"bearer": []}]
    assert {"401", "403"} <= set(users["responses"])
    assert (await client.get("/api/v1/users")).status == 401
    register = document["components"]["schemas"]["Registration"]["properties"]
    assert register["password"]["minLength"] == 8
    assert register["name"]["minLength"] == 4
    movie = document["paths"]["/api/v1/movies/id/{movie_id}"]["get"]
    assert movie["parameters"][0]["schema"]["pattern"] == "^[0-9a-fA-F]{24}$"


def test_a_routes_errors_come_from_the_one_table() -> None:
    operation = getattr(people.update_user, ATTRIBUTE)
    for refusal in (EmailTaken, TechnicianRequired, LastAdmin, NotFound):
        answer = errors.answer_for(refusal)
        assert answer is not None
        assert answer.description in operation.errors[answer.status]
    assert set(operation.errors) == {400, 401, 403, 404, 409}
