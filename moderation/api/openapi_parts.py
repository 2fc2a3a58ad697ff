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


def json_body(model: type[BaseModel], required: bool | None = None) -> dict[str, Any]:
    """Return a JSON request body of a model (required when the model has required fields)."""
    if required is None:
        required = bool(model.model_json_schema().get("required"))
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


def limit_param(description: str) -> dict[str, Any]:
    """Return the page-size parameter (1 to MAX_PAGE_SIZE, which the server enforces)."""
    from flask import current_app

    return param(
        "limit", "query", "integer", description, minimum=1,
        maximum=int(current_app.config["MAX_PAGE_SIZE"]),
    )  # fmt: skip


# Answers any operation may give, whatever its own part of the document says: the one
# error renderer (problems.py) answers these for every route of the API.
COMMON_PROBLEMS = {
    "401": "Missing or unknown credentials.",
    "403": "These credentials may not call this operation (wrong role, or not a site).",
    "503": "Database unavailable: see Retry-After.",
}
PARAMETER_PROBLEMS = {
    "400": "A malformed parameter (cursor, limit).",
    "422": "An invalid parameter (NUL bytes, unknown filter values), named in errors.",
}
PATH_PROBLEMS = {"404": "No such resource (ids are 1 to 2147483647)."}
BODY_PROBLEMS = {
    "400": "Malformed body, or a browser session without its CSRF token.",
    "413": "Body over 1 MiB.",
    "415": "Unsupported Content-Type.",
    "422": "Invalid fields, named in errors.",
}
METHODS = ("get", "put", "post", "delete", "patch")


def complete_responses(paths: dict[str, Any]) -> dict[str, Any]:
    """Add to every operation the problem answers the shared code gives (kept if present)."""
    for path, item in paths.items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            extra = dict(COMMON_PROBLEMS)
            parameters = operation.get("parameters", [])
            if parameters:
                extra.update(PARAMETER_PROBLEMS)
            if "{" in path:
                extra.update(PATH_PROBLEMS)
            if "requestBody" in operation:
                extra.update(BODY_PROBLEMS)
            responses = operation.setdefault("responses", {})
            for status, description in extra.items():
                responses.setdefault(status, problem(description))
    return paths


NUL_FREE = "^[^\\x00]*$"  # moderation/storable.py refuses NUL in every text


def mark_nul_free(node: Any) -> Any:
    """Say of every free-form string schema of the document that it holds no NUL."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            free_form = not ({"pattern", "format", "enum", "const"} & item.keys())
            if item.get("type") == "string" and free_form:
                item["pattern"] = NUL_FREE
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return node
