"""The loopback server's Files API: uploads of batch input (multipart/form-data), and the output files batches write.

Why: Moonshot's Batch API takes its requests as an uploaded JSONL file and returns its results as files
(§8: `/v1/files`, `/v1/batches`; platform.kimi.com/docs/guide/use-batch-api). The shapes are OpenAI's, which
Moonshot follows so that the OpenAI SDK works unchanged (the same guide uploads with `client.files.create`).

Sources: "§8" is /work/shared/kimi-protocol.md section 8. The routes (GET/POST /files, GET/DELETE /files/{id},
GET /files/{id}/content), the file object and the delete answer {id, object: "file", deleted}:
developers.openai.com/api/reference/go/resources/files. OpenAI's error object shape: as cited in
_providers.openai_model_not_found.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

# Moonshot: the input file "must be .jsonl, not empty, at most 100MB" (platform.kimi.com/docs/guide/use-batch-api;
# §8). Read here as 100 MiB.
DEFAULT_MAX_FILE_BYTES = 100 * 1024 * 1024
# Moonshot's batch guide uploads with purpose "batch"; results come back with purpose "batch_output" (OpenAI's
# file object: purpose is one of assistants, assistants_output, batch, batch_output, ..., the files reference above).
UPLOAD_PURPOSES: tuple[str, ...] = ("batch",)
OUTPUT_PURPOSE = "batch_output"


def openai_error(
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    error_type: str = "invalid_request_error",
) -> dict[str, Any]:
    """OpenAI's error body, {"error": {message, type, param, code}}, which the Files and Batches routes answer with
    (the shape cited in _providers.openai_model_not_found). Messages and codes here are this server's own."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


@dataclass
class StoredFile:
    """One file held in memory."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def object(self) -> dict[str, Any]:
        """The file object: {id, object: "file", bytes, created_at, filename, purpose}."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
        }


def parse_form(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]] | None:
    """The fields of a multipart/form-data body, {name: (filename, bytes)}, or None when it is not one.

    The standard library's MIME parser reads it once given the request's Content-Type as a header line
    (multipart/form-data is MIME multipart: RFC 7578); bytes are kept exactly, binary included.
    """
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    header = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(header + raw)
    if not message.is_multipart():
        return None
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields:
            continue
        payload = part.get_payload(decode=True)
        fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


class Files:
    """The in-memory file store; the caller (the Batches store) holds the lock."""

    def __init__(self, max_file_bytes: int) -> None:
        if isinstance(max_file_bytes, bool) or not isinstance(max_file_bytes, int) or max_file_bytes < 1:
            raise ValueError("max_file_bytes must be an int >= 1")
        self.max_file_bytes = max_file_bytes
        self.by_id: dict[str, StoredFile] = {}

    def add(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        stored = StoredFile("file-" + secrets.token_hex(12), filename, purpose, data, int(time.time()))
        self.by_id[stored.id] = stored
        return stored

    def upload(self, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        """POST /v1/files: (status, file object or error)."""
        fields = parse_form(content_type, raw)
        if fields is None:
            return 400, openai_error("Expected a multipart/form-data body with fields 'purpose' and 'file'")
        purpose_field = fields.get("purpose")
        purpose = purpose_field[1].decode("utf-8", "replace").strip() if purpose_field else ""
        if purpose not in UPLOAD_PURPOSES:
            message = f"Invalid purpose {purpose!r}: this server accepts {', '.join(UPLOAD_PURPOSES)}"
            return 400, openai_error(message, param="purpose")
        upload = fields.get("file")
        if upload is None:
            message = "Missing required parameter: 'file'"
            return 400, openai_error(message, param="file", code="missing_required_parameter")
        filename, data = upload
        if len(data) > self.max_file_bytes:
            message = f"File is too large: {len(data)} bytes; the limit is {self.max_file_bytes} bytes"
            return 400, openai_error(message, param="file", code="file_too_large")
        return 200, self.add(filename or "upload.jsonl", purpose, data).object()

    def answer(self, method: str, parts: list[str]) -> tuple[int, dict[str, Any] | bytes]:
        """GET /v1/files, GET/DELETE /v1/files/{id}, GET /v1/files/{id}/content; parts follow "/v1/files"."""
        if not parts:
            if method != "GET":
                return 404, openai_error(f"No route for {method} /v1/files")
            data = [f.object() for f in reversed(self.by_id.values())]  # newest first
            return 200, {"object": "list", "data": data, "has_more": False}
        stored = self.by_id.get(parts[0])
        route = (method, len(parts) == 2 and parts[1] == "content", len(parts))
        if route not in {("GET", False, 1), ("DELETE", False, 1), ("GET", True, 2)}:
            return 404, openai_error(f"No route for {method} /v1/files/{'/'.join(parts)}")
        if stored is None:
            return 404, openai_error(f"No such File object: {parts[0]}", param="id", code="resource_not_found")
        if method == "DELETE":
            del self.by_id[stored.id]
            return 200, {"id": stored.id, "object": "file", "deleted": True}
        return 200, (stored.data if len(parts) == 2 else stored.object())
