"""Validation of a batch: the create request's fields, and every line of its JSONL input file.

Why: a batch starts in status "validating", and an input file that breaks one of Moonshot's rules ends it "failed"
with the reasons in `errors` (statuses: platform.kimi.ai/docs/api/batch-cancel; rules:
platform.kimi.com/docs/guide/use-batch-api, "输入文件要求" (input file requirements); §8). The rules, each from that
guide: the file is not empty; every line is a JSON object with `custom_id`, `method`, `url` and `body`;
`custom_id` is unique in the file; `method` is "POST"; `url` is "/v1/chat/completions"; every line names the same
model (one model per batch); the model exists for the caller. The error entries take OpenAI's BatchError shape
{code, message, param, line} (developers.openai.com/api/reference/python/resources/batches: `errors.data`); the
codes and messages are this server's own, as the docs name none.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kimi_lab.testing._batches_files import openai_error
from kimi_lab.testing._replies import CHAT_PATH

# The only endpoint Moonshot's Batch API runs (use-batch-api: `url` is fixed to /v1/chat/completions).
ENDPOINTS: tuple[str, ...] = (CHAT_PATH,)
# OpenAI accepts only "24h" (developers.openai.com/api/reference/python/resources/batches, create); Moonshot's
# console lets the caller pick the longest wait as the completion window (platform.kimi.ai/docs/guide/
# use-batch-inference), so any "<n>m", "<n>h" or "<n>d" is taken here.
_WINDOW = re.compile(r"^([1-9][0-9]{0,5})([mhd])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}
# OpenAI's metadata limit: 16 pairs of strings (the same page, create: metadata).
_MAX_METADATA = 16

Line = tuple[str, dict[str, Any]]  # (custom_id, body)


def window_seconds(value: Any) -> float | None:
    """Seconds in a completion_window like "24h", or None when it is not one."""
    match = _WINDOW.match(value) if isinstance(value, str) else None
    return None if match is None else float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def check_create(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """The 400 error body for a malformed POST /v1/batches, else None (the input file is checked later)."""
    if body is None:
        return openai_error("Invalid request: body must be a JSON object")
    for name in ("input_file_id", "endpoint", "completion_window"):
        if not isinstance(body.get(name), str):
            return openai_error(f"Missing required parameter: {name!r}", param=name, code="missing_required_parameter")
    if body["endpoint"] not in ENDPOINTS:
        message = f"Invalid endpoint {body['endpoint']!r}: batches run {', '.join(ENDPOINTS)} only"
        return openai_error(message, param="endpoint", code="invalid_value")
    if window_seconds(body["completion_window"]) is None:
        message = f"Invalid completion_window {body['completion_window']!r}: expected a duration such as '24h'"
        return openai_error(message, param="completion_window", code="invalid_value")
    metadata = body.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and len(metadata) <= _MAX_METADATA
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        message = f"Invalid metadata: at most {_MAX_METADATA} string keys with string values"
        return openai_error(message, param="metadata", code="invalid_value")
    return None


def _error(code: str, message: str, line: int | None, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}


def _line_errors(number: int, line: Any, endpoint: str) -> list[dict[str, Any]]:
    """What is wrong with one decoded line, apart from its custom_id and model (checked across lines)."""
    errors: list[dict[str, Any]] = []
    if not isinstance(line, dict):
        return [_error("invalid_json_line", f"Line {number} is not a JSON object", number)]
    for name in ("custom_id", "method", "url", "body"):
        if name not in line:
            errors.append(_error("missing_required_parameter", f"Line {number} has no {name!r}", number, name))
    if "method" in line and line["method"] != "POST":
        errors.append(_error("invalid_method", f"Line {number}: method must be 'POST'", number, "method"))
    if "url" in line and line["url"] != endpoint:
        message = f"Line {number}: url {line['url']!r} does not match the batch endpoint {endpoint!r}"
        errors.append(_error("invalid_url", message, number, "url"))
    if "body" in line and not isinstance(line["body"], dict):
        errors.append(_error("invalid_body", f"Line {number}: body must be a JSON object", number, "body"))
    return errors


def check_input(data: bytes, endpoint: str, served: list[str] | None) -> tuple[list[Line], list[dict[str, Any]]]:
    """(lines to run, errors) for an input file; lines are only returned when there are no errors.

    Lines are numbered from 1; a final newline ends the last line, it does not start an empty one. `served` is the
    server's model list (None: any model exists).
    """
    if not data:
        return [], [_error("empty_file", "The input file is empty", None)]
    text = data.decode("utf-8", "replace")
    raw_lines = text.split("\n")
    if raw_lines[-1] == "":
        raw_lines.pop()
    errors: list[dict[str, Any]] = []
    lines: list[Line] = []
    seen: dict[str, int] = {}
    model: Any = None
    model_line = 0
    for number, raw in enumerate(raw_lines, start=1):
        try:
            line = json.loads(raw)
        except ValueError:
            errors.append(_error("invalid_json_line", f"Line {number} is not valid JSON", number))
            continue
        found = _line_errors(number, line, endpoint)
        errors += found
        if not isinstance(line, dict):
            continue
        custom_id = line.get("custom_id")
        if "custom_id" in line and not isinstance(custom_id, str):
            message = f"Line {number}: custom_id must be a string"
            errors.append(_error("invalid_custom_id", message, number, "custom_id"))
        elif isinstance(custom_id, str) and custom_id in seen:
            message = f"Line {number}: custom_id {custom_id!r} is also used on line {seen[custom_id]}"
            errors.append(_error("duplicate_custom_id", message, number, "custom_id"))
        elif isinstance(custom_id, str):
            seen[custom_id] = number
        body = line.get("body")
        if not isinstance(body, dict):
            continue
        this_model = body.get("model")
        if not isinstance(this_model, str) or not this_model:
            errors.append(_error("missing_model", f"Line {number}: body has no model", number, "body.model"))
        elif model is None:
            model, model_line = this_model, number
            if served is not None and this_model not in served:
                message = f"Line {number}: model {this_model!r} does not exist or you do not have access to it"
                errors.append(_error("model_not_found", message, number, "body.model"))
        elif this_model != model:
            message = (
                f"Line {number}: model {this_model!r} differs from {model!r} on line {model_line}; "
                "a batch runs one model"
            )
            errors.append(_error("mismatched_model", message, number, "body.model"))
        if not found and isinstance(custom_id, str):
            lines.append((custom_id, body))
    return ([] if errors else lines), errors
