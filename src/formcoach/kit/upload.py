"""Streaming multipart upload: the file part goes straight to disk, the size limit is enforced
while bytes arrive, and nothing of the upload is held whole in memory."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from formcoach.kit.diskspace import is_disk_full
from formcoach.kit.errors import AppError

MAX_FIELD_BYTES = 4096
MAX_FIELDS = 32
MAX_FILENAME_CHARS = 255
FALLBACK_FILENAME = "upload"


def safe_filename(raw: str) -> str:
    """The client's file name made safe to store and show; it is never used as a path.

    Keeps only the last path component (``../`` or ``C:\\`` prefixes dropped), removes control
    and format characters (NUL, newlines, terminal escapes, right-to-left overrides that
    disguise an extension) and leading dots, and caps the length of the stored column.
    """
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = name.strip().lstrip(".").strip()
    return name[:MAX_FILENAME_CHARS] or FALLBACK_FILENAME


@dataclass
class UploadResult:
    fields: dict[str, str] = field(default_factory=dict)
    file_field: str | None = None
    filename: str = ""
    file_bytes: int = 0


class _Collector:
    def __init__(self, file_field: str, out: BinaryIO, limit: int) -> None:
        self.file_field = file_field
        self.out = out
        self.limit = limit
        self.result = UploadResult()
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._buffer = bytearray()
        self.error: AppError | None = None

    def on_part_begin(self) -> None:
        self._headers = {}
        self._buffer = bytearray()
        self._name = ""
        self._is_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        # The part named like the file field is the file, with or without a filename: clients
        # drop an empty filename="" altogether, which made the video a (too long) text field.
        if self._name == self.file_field:
            if self.result.file_field is not None:
                self.error = AppError("validation_error", detail="only one video file per upload")
                return
            self._is_file = True
            self.result.file_field = self._name
            filename = params.get(b"filename") or b""
            self.result.filename = safe_filename(filename.decode("utf-8", "replace"))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        chunk = data[start:end]
        if self._is_file:
            self.result.file_bytes += len(chunk)
            if self.result.file_bytes > self.limit:
                self.error = AppError("file_too_large", limit_mb=self.limit // (1024 * 1024))
                return
            self.out.write(chunk)
        else:
            self._buffer += chunk
            if len(self._buffer) > MAX_FIELD_BYTES:
                self.error = AppError("validation_error", detail=f"field {self._name} is too long")

    def on_part_end(self) -> None:
        if not self._is_file and self._name and self.error is None:
            if len(self.result.fields) >= MAX_FIELDS:
                self.error = AppError("validation_error", detail="too many fields")
                return
            self.result.fields[self._name] = self._buffer.decode("utf-8", "replace")


async def receive_upload(
    content_type: str | None,
    stream: AsyncIterator[bytes],
    file_field: str,
    dest: Path,
    limit_bytes: int,
) -> UploadResult:
    """Parse a multipart/form-data body, writing the part named ``file_field`` to ``dest``."""
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise AppError("validation_error", detail="expected multipart/form-data with a video file")
    with dest.open("wb") as out:
        collector = _Collector(file_field, out, limit_bytes)
        callbacks = {
            name: getattr(collector, name)
            for name in (
                "on_part_begin",
                "on_header_field",
                "on_header_value",
                "on_header_end",
                "on_headers_finished",
                "on_part_data",
                "on_part_end",
            )
        }
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        try:
            async for chunk in stream:
                parser.write(chunk)
                if collector.error is not None:
                    raise collector.error
            parser.finalize()
        except AppError:
            raise
        except OSError as exc:
            if is_disk_full(exc):
                raise AppError("storage_full") from exc
            raise
        except Exception as exc:  # malformed multipart from the parser
            raise AppError("validation_error", detail=f"malformed multipart body: {exc}") from exc
        if collector.error is not None:
            raise collector.error
    if collector.result.file_field is None:
        raise AppError("validation_error", detail=f"missing file field '{file_field}'")
    return collector.result
