"""The pieces every part of the OpenAPI document is built from (site, queue, admin)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

REF = "#/components/schemas/{model}"
PROBLEM = {"$ref": REF.format(model="Problem")}


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    """Return the schema reference of a documented model."""
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": REF.format(model=name)}


def json_body(model: type[BaseModel], required: bool = False) -> dict[str, Any]:
    """Return a JSON request body of a model."""
    return {"required": required, "content": {"application/json": {"schema": ref(model)}}}


def json_response(model: type[BaseModel], description: str) -> dict[str, Any]:
    """Return a JSON response of a model."""
    return {"description": description, "content": {"application/json": {"schema": ref(model)}}}


def problem(description: str) -> dict[str, Any]:
    """Return a problem+json response (RFC 9457)."""
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM}},
    }


def problems(**described: str) -> dict[str, Any]:
    """Return problem responses by status: problems(_404="No such comment.")."""
    return {code.lstrip("_"): problem(text) for code, text in described.items()}


def param(name: str, where: str, kind: str, description: str = "", **extra: Any) -> dict[str, Any]:
    """Return a path, query or header parameter (path parameters are required)."""
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": {"type": kind, **extra},
    }
