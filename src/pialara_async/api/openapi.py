"""The OpenAPI description, built from the routes themselves.

Handlers carry their description through ``@describe(...)`` (summary, query,
body and response models); the document is assembled from the router on first
request, so a route added by any module appears without a central list. The
docs page is Swagger UI served from the ``swagger-ui-bundle`` package's own
files: it works without internet access.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import swagger_ui_bundle
from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from pialara_async import __version__
from pialara_async.jsonio import json_response

_ATTRIBUTE = "__openapi__"


@dataclass(slots=True)
class Operation:
    summary: str
    tags: tuple[str, ...] = ()
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | str] = field(default_factory=dict)
    auth: bool = False


def describe(
    summary: str,
    *,
    tags: tuple[str, ...] = (),
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | str] | None = None,
    auth: bool = False,
) -> Callable[[Any], Any]:
    def mark(handler: Any) -> Any:
        setattr(handler, _ATTRIBUTE, Operation(summary, tags, query, body, responses or {}, auth))
        return handler

    return mark


def _walk(app: web.Application, prefix: str = "") -> list[tuple[str, str, Operation]]:
    found: list[tuple[str, str, Operation]] = []
    for resource in app.router.resources():
        sub_app = getattr(resource, "_app", None)
        if isinstance(resource, web.PrefixedSubAppResource) and sub_app is not None:
            found += _walk(sub_app, prefix + resource.canonical)
            continue
        for route in resource:
            operation = getattr(route.handler, _ATTRIBUTE, None)
            if operation is not None and route.method != "HEAD":
                found.append((prefix + resource.canonical, route.method.lower(), operation))
    return found


class OpenAPIRegistry:
    def __init__(self, title: str) -> None:
        self.title = title
        self._document: dict[str, Any] | None = None

    def document(self, app: web.Application) -> dict[str, Any]:
        if self._document is None:
            self._document = build_document(self.title, _walk(app))
        return self._document


def _parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
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
    }
    refs, definitions = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for path, method, op in sorted(operations, key=lambda item: item[:2]):
        entry: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags), "responses": {}}
        if op.query is not None:
            entry["parameters"] = _parameters(op.query)
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
                    "description": response.__doc__ or response.__name__,
                    "content": {
                        "application/json": {"schema": refs[(response, "validation")]}
                    },
                }
        entry["responses"].setdefault("default", {"description": 'Error: {"error": ...}'})
        if op.auth:
            entry["security"] = [{"bearer": []}]
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
    from pialara_async.keys import OPENAPI

    # Served from the API sub-app, it describes the whole application.
    root = request.match_info.apps[0]
    return json_response(request.config_dict[OPENAPI].document(root))


@routes.get("/docs")
async def docs_page(request: web.Request) -> web.Response:
    from pialara_async.keys import OPENAPI

    title = request.config_dict[OPENAPI].title
    return web.Response(text=_DOCS_PAGE.format(title=title), content_type="text/html")


routes.static("/docs/static", swagger_ui_bundle.swagger_ui_path)
