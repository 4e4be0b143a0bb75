"""HTTP API: routes per module, middlewares, validation and the OpenAPI description."""
