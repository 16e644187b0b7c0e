"""The pieces every OpenAPI operation of the hub is built from (JSON bodies, answers, errors)."""

from __future__ import annotations

from typing import Any

JSON = "application/json"


def error(description: str) -> dict[str, Any]:
    """A refusal: the hub's one JSON error shape."""
    return answer(description, {"$ref": "#/components/schemas/Error"})


def answer(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def body(properties: dict[str, Any] | None = None, required: list[str] | None = None) -> dict[str, Any]:
    """A JSON object request body; without ``properties``, any object."""
    schema: dict[str, Any] = {"type": "object"}
    if properties is not None:
        schema["properties"] = properties
    if required:
        schema["required"] = required
    return {"required": properties is None or bool(required), "content": {JSON: {"schema": schema}}}
