"""Typed answers: a pydantic model or a JSON schema the answer must match, checked on our side.

Providers differ in what they enforce (`response_format: json_schema` on some, JSON mode only on others,
and Moonshot warns that complex schemas can be unstable), so the answer is always validated here, a
failure names the field, and nothing is coerced: "5" is not an integer, "happy" is not in an enum.
A JSON-schema dict is checked for the keywords that shape data (type, enum, const, properties,
required, additionalProperties: false, items, anyOf/oneOf, local $ref); other keywords are not checked.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kimi_lab.common.errors import KimiConfigError

__all__ = ["Schema", "SchemaMismatch", "strip_fences"]

_FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n\s*```\s*$", re.S)
_NAME_OK = re.compile(r"[^A-Za-z0-9_-]+")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
    "object": (dict,), "null": (type(None),),
}


class SchemaMismatch(ValueError):
    """The answer is not JSON, or not of the schema's shape; the message names each field that failed."""


def strip_fences(text: str) -> str:
    """The JSON inside a ```json fence (models add one even in JSON mode), else the text itself."""
    match = _FENCE.match(text)
    return match.group(1) if match else text.strip()


class Schema:
    """What a typed answer must be; `parse(text)` gives the validated value or raises SchemaMismatch."""

    def __init__(self, spec: Any) -> None:
        self.model: Any = None
        if isinstance(spec, type) and hasattr(spec, "model_json_schema") and hasattr(spec, "model_validate_json"):
            self.model = spec
            self.json_schema: dict[str, Any] = spec.model_json_schema()
            title = spec.__name__
        elif isinstance(spec, dict) and (spec.get("type") == "object" or isinstance(spec.get("properties"), dict)):
            self.json_schema = spec
            title = str(spec.get("title") or "answer")
        else:
            raise KimiConfigError(
                f"schema must be a pydantic model class or a JSON schema of an object (a dict with \"type\": "
                f"\"object\" and \"properties\"), got {type(spec).__name__}"
            )
        self.name = (_NAME_OK.sub("_", title).strip("_") or "answer")[:64]
        props = self.json_schema.get("properties")
        self.fields: tuple[str, ...] = tuple(props) if isinstance(props, dict) else ()

    def response_format(self) -> dict[str, Any]:
        """`response_format` for providers that enforce a schema (OpenAI's shape, which Moonshot and
        OpenRouter take); not strict: strict mode rejects schemas with optional fields."""
        return {"type": "json_schema", "json_schema": {"name": self.name, "schema": self.json_schema}}

    def instruction(self) -> str:
        """Said in the system prompt too, for providers that only have JSON mode."""
        return ("Answer with only a JSON object, no prose and no code fence, that matches this JSON schema:\n"
                + json.dumps(self.json_schema, ensure_ascii=False, separators=(",", ":")))

    def parse(self, text: str) -> Any:
        body = strip_fences(text)
        if self.model is not None:
            from pydantic import ValidationError

            try:
                return self.model.model_validate_json(body, strict=True)
            except ValidationError as exc:
                raise SchemaMismatch(_pydantic_errors(exc)) from None
            except RecursionError:
                raise SchemaMismatch("nested too deeply to read") from None
            except Exception as exc:  # a validator of the user's model raising something else: still this answer's
                raise SchemaMismatch(f"the model's validator raised {type(exc).__name__}: {str(exc)[:200]}") from None
        try:
            value = json.loads(body)
        except ValueError as exc:
            raise SchemaMismatch(f"not JSON ({getattr(exc, 'msg', exc)})") from None
        except RecursionError:
            raise SchemaMismatch("nested too deeply to read") from None
        problems: list[str] = []
        try:
            _check(value, self.json_schema, "", problems, self.json_schema)
        except RecursionError:
            raise SchemaMismatch("nested too deeply to check") from None
        if problems:
            raise SchemaMismatch("; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8
                                                              else ""))
        return value

    def columns(self, value: Any) -> dict[str, Any]:
        """The validated value as one entry per top-level field (a DataFrame row)."""
        data = value.model_dump() if hasattr(value, "model_dump") else value
        return {f: data.get(f) for f in self.fields} if isinstance(data, dict) else {"answer": data}

    def repair_prompt(self, problem: str) -> str:
        return (f"That answer does not match the schema: {problem}. Reply again with only the corrected JSON "
                "object.")


def _pydantic_errors(exc: Any) -> str:
    parts = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "the answer"
        got = err.get("input")
        shown = f" (got {json.dumps(got, ensure_ascii=False, default=str)[:60]})" if err.get("type") not in (
            "missing", "json_invalid") else ""
        parts.append(f"{where}: {err.get('msg', 'invalid')}{shown}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s, a ref to a ref included, to the schema they name (a cycle of refs names none)."""
    seen: set[str] = set()
    while isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/"):
        ref = schema["$ref"]
        if ref in seen:
            return {}
        seen.add(ref)
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema = node if isinstance(node, dict) else {}
    return schema


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False  # JSON true is not 1
    return isinstance(value, _TYPES.get(kind, (object,)))


def _check(value: Any, schema: Any, where: str, problems: list[str], root: dict[str, Any]) -> None:
    if not isinstance(schema, dict):
        return
    schema = _resolve(schema, root)
    name = where or "the answer"
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        for option in options:
            trial: list[str] = []
            _check(value, option, where, trial, root)
            if not trial:
                break
        else:
            problems.append(f"{name}: matches none of the allowed shapes")
            return
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
    if kinds and not any(_is(value, k) for k in kinds):
        problems.append(f"{name}: should be {' or '.join(kinds)} (got {json.dumps(value)[:60]})")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{name}: should be one of {', '.join(json.dumps(v) for v in schema['enum'])} "
                        f"(got {json.dumps(value)[:60]})")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{name}: should be {json.dumps(schema['const'])}")
    if isinstance(value, dict):
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        for field in schema.get("required", []) or []:
            if field not in value:
                problems.append(f"{where + '.' if where else ''}{field}: missing")
        for field, item in value.items():
            path = f"{where}.{field}" if where else str(field)
            if field in props:
                _check(item, props[field], path, problems, root)
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}: not in the schema")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{i}]", problems, root)
