"""The OpenAPI description and its offline docs page."""

from __future__ import annotations

from aiohttp.test_utils import TestClient


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
