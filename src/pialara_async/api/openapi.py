"""The OpenAPI description, built from the routes' own declarations.

Each handler is declared once with ``@endpoint`` (``api/endpoint.py``): the
same declaration validates the input, checks the caller and is read here, so
the document cannot drift from what the routes do. It is assembled from the
router on first request (a route added by any module appears without a
central list). The docs page is Swagger UI served from the
``swagger-ui-bundle`` package's own files: it works without internet access.
"""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from aiohttp import web
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from pialara_async import __version__
from pialara_async.api.endpoint import ATTRIBUTE, Operation
from pialara_async.jsonio import json_response


class ErrorBody(BaseModel):
    """An error: one message, or messages by field."""

    error: str | dict[str, str]
    code: str | None = Field(None, description="why a 409 refused: technician_has_clients, "
                                               "last_admin")
    request_id: str | None = None
    retry_after: int | None = None
    may_have_been_applied: bool | None = None


def _walk(app: web.Application) -> list[tuple[str, str, Operation]]:
    found: list[tuple[str, str, Operation]] = []
    for resource in app.router.resources():
        sub_app = getattr(resource, "_app", None)
        if isinstance(resource, web.PrefixedSubAppResource) and sub_app is not None:
            # A sub-app's resources already carry its prefix.
            found += _walk(sub_app)
            continue
        for route in resource:
            operation = getattr(route.handler, ATTRIBUTE, None)
            if operation is not None and route.method != "HEAD":
                found.append((resource.canonical, route.method.lower(), operation))
    return found


class OpenAPIRegistry:
    def __init__(self, title: str) -> None:
        self.title = title
        self._document: dict[str, Any] | None = None

    def document(self, app: web.Application) -> dict[str, Any]:
        if self._document is None:
            self._document = build_document(self.title, _walk(app))
        return self._document


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def build_document(title: str, operations: list[tuple[str, str, Operation]]) -> dict[str, Any]:
    models = {
        model
        for _, _, op in operations
        for model in (op.body, *op.responses.values())
        if isinstance(model, type)
    } | {ErrorBody}
    refs, definitions = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    error = {"application/json": {"schema": refs[(ErrorBody, "validation")]}}
    paths: dict[str, dict[str, Any]] = {}
    for path, method, op in sorted(operations, key=lambda item: item[:2]):
        entry: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags),
                                 "operationId": f"{method}{path}", "responses": {}}
        parameters = []
        if op.path is not None:
            parameters += _parameters(op.path, "path")
        if op.query is not None:
            parameters += _parameters(op.query, "query")
        if parameters:
            entry["parameters"] = parameters
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        for status, response in sorted(op.responses.items()):
            if isinstance(response, str):
                entry["responses"][str(status)] = {"description": response}
            else:
                entry["responses"][str(status)] = {
                    "description": (response.__doc__ or response.__name__).strip(),
                    "content": {
                        "application/json": {"schema": refs[(response, "validation")]}
                    },
                }
        for status, description in sorted(op.errors.items()):
            entry["responses"].setdefault(str(status), {"description": description,
                                                        "content": error})
        entry["responses"].setdefault("default", {
            "description": "an error (500, 503, 504…)", "content": error})
        if op.access.signed_in or op.access.optional:
            entry["security"] = [{"bearer": []}] + ([{}] if op.access.optional else [])
        paths.setdefault(path, {})[method] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


# The document, built once from the routes.
OPENAPI = web.AppKey("openapi", OpenAPIRegistry)
routes = web.RouteTableDef()

_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} API</title>
<link rel="stylesheet" href="docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "openapi.json", dom_id: "#swagger-ui"}});</script>
</body></html>"""


@routes.get("/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    # Served from the API sub-app, it describes the whole application.
    root = request.match_info.apps[0]
    return json_response(request.config_dict[OPENAPI].document(root))


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.Response:
    title = request.config_dict[OPENAPI].title
    return web.Response(text=_DOCS_PAGE.format(title=title), content_type="text/html")


routes.static("/docs/static", swagger_ui_bundle.swagger_ui_path)
