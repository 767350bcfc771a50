"""Tolerance for known-harmless schema deviations, per charger (a registry setting).

Real firmware sends extra fields, enum values in the wrong case and numbers as strings.
With `lenient` on, such a payload is repaired against the official JSON schema before
validation, and each repair is reported so it can be logged as a warning.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from app.domain.site import OcppVersion


@cache
def request_schema(version: OcppVersion, action: str) -> dict | None:
    folder = files("ocpp.v16" if version is OcppVersion.V16 else "ocpp.v201") / "schemas"
    name = f"{action}.json" if version is OcppVersion.V16 else f"{action}Request.json"
    node = folder / name
    if not node.is_file():
        return None
    return json.loads(node.read_text("utf-8"))


def relax(payload: Any, schema: dict) -> tuple[Any, list[str]]:
    """Return the repaired payload and a list of what was repaired."""
    notes: list[str] = []
    fixed = _walk(payload, schema, schema.get("definitions", {}), "", notes)
    return fixed, notes


def _walk(value: Any, schema: dict, defs: dict, path: str, notes: list[str]) -> Any:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        schema = defs.get(ref.rsplit("/", 1)[1], {})
    kind = schema.get("type")
    if "enum" in schema and isinstance(value, str) and value not in schema["enum"]:
        match = next((e for e in schema["enum"] if str(e).lower() == value.lower()), None)
        if match is not None:
            notes.append(f"{path or 'payload'}: enum case {value!r} -> {match!r}")
            return match
    if kind == "object" and isinstance(value, dict):
        return _object(value, schema, defs, path, notes)
    if kind == "array" and isinstance(value, list):
        item = schema.get("items", {})
        return [_walk(v, item, defs, f"{path}[{i}]", notes) for i, v in enumerate(value)]
    if kind in ("integer", "number") and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return value
        notes.append(f"{path}: number sent as string {value!r}")
        return int(number) if kind == "integer" and number.is_integer() else number
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        notes.append(f"{path}: integer sent as {value!r}")
        return int(value)
    if kind == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        notes.append(f"{path}: string sent as number {value!r}")
        return str(value)
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        notes.append(f"{path}: boolean sent as string {value!r}")
        return value.lower() == "true"
    return value


def _object(value: dict, schema: dict, defs: dict, path: str, notes: list[str]) -> dict:
    props: dict = schema.get("properties", {})
    by_lower = {k.lower(): k for k in props}
    out: dict = {}
    for key, item in value.items():
        name = key if key in props else by_lower.get(str(key).lower())
        where = f"{path}.{key}" if path else str(key)
        if name is None:
            if schema.get("additionalProperties") is False:
                notes.append(f"{where}: unknown field dropped")
                continue
            out[key] = item
            continue
        if name != key:
            notes.append(f"{where}: field name case -> {name!r}")
        out[name] = _walk(item, props[name], defs, where, notes)
    return out
