"""The OpenAPI document matches the API's routes both ways, and is valid."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import schemathesis
from flask import Flask

from vault.web import openapi

METHODS = {"get", "post", "put", "patch", "delete"}


def routes(app: Flask) -> set[tuple[str, str]]:
    """(METHOD, /path/{param}) of every rule of the api blueprint."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add((method, path))
    return found


def described(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items()
            for method in item if method in METHODS}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_route_is_described_and_nothing_else(app: Flask) -> None:
    resp = app.test_client().get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    doc = resp.get_json()
    assert doc == json.loads(json.dumps(openapi.document()))
    in_app, in_doc = routes(app), described(doc)
    assert in_app - in_doc == set(), "routes missing from the OpenAPI document"
    assert in_doc - in_app == set(), "the OpenAPI document describes routes that do not exist"
    # The route walk itself found the API (a walk that finds nothing would pass above).
    assert {("GET", "/api/v1/documents"), ("POST", "/api/v1/documents/{id}/requests"),
            ("POST", "/api/v1/recordings"), ("GET", "/api/v1/leaks")} <= in_app


def test_the_route_conversion_itself() -> None:
    assert re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?(\w+)>", r"{\1}",
                  "/a/<int:id>/b/<username>/c/<int(max=9):n>") == "/a/{id}/b/{username}/c/{n}"


def test_the_document_validates_against_the_openapi_schema() -> None:
    schema = schemathesis.openapi.from_dict(openapi.document())
    schema.validate()  # the OpenAPI 3.0 meta-schema (raises on any violation)
    broken = openapi.document()
    broken["paths"]["/api/v1/me"]["get"]["responses"] = {"200": {"content": {}}}
    with pytest.raises(Exception, match="description|valid"):  # noqa: B017
        schemathesis.openapi.from_dict(broken).validate()


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_structure() -> None:
    doc = openapi.document()
    assert doc["openapi"].startswith("3.0")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "vt_<prefix>_<secret>"}
    assert doc["security"] == [{"bearerAuth": []}]
    # Every reference resolves.
    for ref in _refs(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref
    # The error schema is the one every error answers with.
    assert doc["components"]["schemas"]["Error"]["required"] == ["code", "message"]
    operation_ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            operation_ids.append(op["operationId"])
            params = op.get("parameters", [])
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == set(re.findall(r"{(\w+)}", path)), (method, path)
            assert all(p["required"] for p in params if p["in"] == "path")
            assert not any(p["name"] in ("access_token", "token") for p in params), (
                "tokens are never accepted in the URL")
            codes = set(op["responses"])
            assert any(c.startswith("2") for c in codes), (method, path)
            if op.get("security") == []:
                assert path.endswith("/openapi.json")
                continue
            assert "401" in codes, (method, path)
            for code in codes - {"200", "201"}:
                assert op["responses"][code] == {"$ref": op["responses"][code]["$ref"]}
            if "requestBody" in op or params:
                assert "400" in codes, (method, path)
    assert len(operation_ids) == len(set(operation_ids))


def test_enumerations_follow_the_code() -> None:
    from vault.actions import Action
    from vault.policy import Category, Level

    doc = openapi.document()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/documents"]["get"]["parameters"]}
    assert params["level"]["schema"]["enum"] == [lv.value for lv in Level]
    assert params["category"]["schema"]["enum"] == [c.value for c in Category]
    audit = {p["name"]: p for p in doc["paths"]["/api/v1/audit/events"]["get"]["parameters"]}
    assert audit["action"]["schema"]["enum"] == [a.value for a in Action]
