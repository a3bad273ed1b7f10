"""Resumable uploads: the tus 1.0 core protocol (with its creation, expiration and termination
extensions), so a recording made on a shop's Wi-Fi continues where a dropped connection left it.

    POST   /api/uploads               Upload-Length, Upload-Metadata (the run's form fields)
    HEAD   /api/uploads/{id}          -> Upload-Offset: what the server holds
    PATCH  /api/uploads/{id}          Upload-Offset + application/offset+octet-stream bytes
    DELETE /api/uploads/{id}          termination
    POST   /api/uploads/{id}/run      the complete file -> a run, as POST /api/runs would make

The file's size on disk is the offset: bytes of a PATCH cut off mid-way are kept, and the next
HEAD says where to continue. An upload belongs to the user who created it (others get 404),
is locked while a PATCH writes to it, and is deleted once it becomes a run, is refused by the
probe, is terminated, or lies untouched for `upload_expiry_s` (swept at each creation).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import secrets
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from formcoach.accounts.deps import CurrentUser
from formcoach.accounts.users import User
from formcoach.gateway.api import RUN_LINKS, _options
from formcoach.gateway.framing import check_person
from formcoach.gateway.intake import start_run
from formcoach.kit.api import DbSession, SettingsDep, StorageDep
from formcoach.kit.diskspace import is_disk_full, require_free_space
from formcoach.kit.errors import AppError
from formcoach.kit.schemas import ErrorResponse
from formcoach.kit.settings import Settings
from formcoach.kit.upload import MAX_FIELD_BYTES, MAX_FIELDS, safe_filename
from formcoach.runs import service as runs_service
from formcoach.runs.schemas import RunCreated

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,expiration,termination"
OFFSET_TYPE = "application/offset+octet-stream"
# Refusals of the clip itself (video_processing probe, check_person): no retry can change them.
REFUSED_CLIP = frozenset(
    {
        "empty_file",
        "not_a_video",
        "audio_only",
        "frame_too_large",
        "frame_rate_invalid",
        "video_too_short",
        "video_too_long",
        "clip_too_sparse",
        "no_person_detected",
        "validation_error",
    }
)
_ID_PATTERN = r"^[0-9a-f]{32}$"
UploadId = Annotated[str, PathParam(pattern=_ID_PATTERN, description="upload id")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 412, 413, 415, 422, 429, 507)
}

router = APIRouter(tags=["uploads"], responses=_ERRORS)


@dataclass
class Upload:
    id: str
    user_id: int
    length: int
    metadata: dict[str, str]
    folder: Path

    @property
    def data(self) -> Path:
        return self.folder / f"{self.id}.part"

    @property
    def info(self) -> Path:
        return self.folder / f"{self.id}.json"

    @property
    def offset(self) -> int:
        try:
            return self.data.stat().st_size
        except FileNotFoundError:
            return 0

    def expires(self, settings: Settings) -> str:
        touched = max(self.info.stat().st_mtime, self.data.stat().st_mtime)
        return formatdate(touched + settings.upload_expiry_s, usegmt=True)

    def delete(self) -> None:
        self.data.unlink(missing_ok=True)
        self.info.unlink(missing_ok=True)


def _folder(settings: Settings) -> Path:
    # Not under tmp/: a half-sent upload is the user's state, kept until it expires.
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _load(folder: Path, upload_id: str) -> Upload | None:
    try:
        doc = json.loads((folder / f"{upload_id}.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return Upload(upload_id, int(doc["user_id"]), int(doc["length"]), doc["metadata"], folder)


def _owned(settings: Settings, user: User, upload_id: str) -> Upload:
    upload = _load(_folder(settings), upload_id)
    if upload is None or upload.user_id != user.id:
        raise AppError("not_found")  # never reveal another user's upload
    return upload


def sweep(settings: Settings, now: float | None = None) -> int:
    """Delete uploads untouched for upload_expiry_s (abandoned); the number deleted."""
    now = time.time() if now is None else now
    deleted = 0
    for info in _folder(settings).glob("*.json"):
        data = info.with_suffix(".part")
        try:
            touched = max(info.stat().st_mtime, data.stat().st_mtime if data.exists() else 0)
        except FileNotFoundError:
            continue
        if now - touched > settings.upload_expiry_s:
            data.unlink(missing_ok=True)
            info.unlink(missing_ok=True)
            deleted += 1
    for data in _folder(settings).glob("*.part"):
        if not data.with_suffix(".json").exists():
            data.unlink(missing_ok=True)  # its info went first (a delete cut short)
    return deleted


def parse_metadata(header: str) -> dict[str, str]:
    """tus Upload-Metadata: comma-separated `key base64value` pairs (value optional)."""
    fields: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, encoded = pair.partition(" ")
        if not key or " " in encoded.strip() or key in fields:
            raise AppError("validation_error", detail="malformed Upload-Metadata")
        try:
            value = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AppError(
                "validation_error", detail=f"Upload-Metadata {key}: not base64"
            ) from None
        if len(value) > MAX_FIELD_BYTES:
            raise AppError("validation_error", detail=f"field {key} is too long")
        fields[key] = value
    if len(fields) > MAX_FIELDS:
        raise AppError("validation_error", detail="too many fields")
    return fields


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _check_version(request: Request) -> None:
    version = request.headers.get("tus-resumable", "")
    if version != TUS_VERSION:
        raise AppError("tus_version_unsupported", version=version or "-")


def _int_header(request: Request, name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit():
        raise AppError("validation_error", detail=f"{name} must be a non-negative integer")
    return int(raw)


# tus 1.0 core plus the extensions implemented here: creation (POST), termination (DELETE),
# expiration (Upload-Expires, swept).
TUS_EXTENSIONS = "creation,termination,expiration"


def _discovery(user: CurrentUser, settings: SettingsDep) -> Response:
    """What the server speaks (tus 1.0 OPTIONS): versions, extensions and the size limit.
    No Tus-Resumable is needed on the request: a client asks before it knows the version."""
    del user  # signed in, like every other route
    headers = _tus_headers(
        **{
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(settings.max_upload_bytes),
        }
    )
    return Response(status_code=204, headers=headers)


@router.options("/uploads", status_code=204, response_model=None)
def discover_uploads(user: CurrentUser, settings: SettingsDep) -> Response:
    return _discovery(user, settings)


@router.options("/uploads/{upload_id}", status_code=204, response_model=None)
def discover_upload(upload_id: str, user: CurrentUser, settings: SettingsDep) -> Response:
    del upload_id
    return _discovery(user, settings)


@router.post("/uploads", status_code=201, response_model=None)
def create_upload(
    request: Request, user: CurrentUser, session: DbSession, settings: SettingsDep
) -> Response:
    """Create an upload of `Upload-Length` bytes. `Upload-Metadata` carries the fields of
    POST /api/runs (movement, view, height_cm, language, person, subject, camera_roll_deg)
    and `filename`; they are checked now, before a byte is sent."""
    _check_version(request)
    length = _int_header(request, "upload-length")
    if length > settings.max_upload_bytes:
        raise AppError("file_too_large", limit_mb=settings.max_upload_mb)
    if length == 0:
        raise AppError("empty_file")
    fields = parse_metadata(request.headers.get("upload-metadata", ""))
    if fields.get("language") in ("ja", "en"):
        request.state.request_language = fields["language"]
    _options(fields, user)
    runs_service.clean_person(fields.get("person"))
    runs_service.check_queue_room(session, user.id, settings)
    require_free_space(settings)
    sweep(settings)
    folder = _folder(settings)
    pending = [u for u in (_load(folder, p.stem) for p in folder.glob("*.json")) if u]
    if sum(u.user_id == user.id for u in pending) >= settings.upload_max_pending_per_user:
        raise AppError("too_many_uploads", limit=settings.upload_max_pending_per_user)
    upload = Upload(secrets.token_hex(16), user.id, length, fields, folder)
    upload.data.touch()
    doc = {"user_id": user.id, "length": length, "metadata": fields, "created": time.time()}
    upload.info.write_text(json.dumps(doc), encoding="utf-8")
    url = f"/api/uploads/{upload.id}"
    headers = _tus_headers(Location=url, **{"Upload-Expires": upload.expires(settings)})
    body = json.dumps({"id": upload.id, "url": url, "offset": 0, "length": length})
    return Response(body, status_code=201, media_type="application/json", headers=headers)


@router.head("/uploads/{upload_id}", response_model=None)
def upload_offset(upload_id: UploadId, user: CurrentUser, settings: SettingsDep) -> Response:
    """Where to resume: `Upload-Offset` bytes are held of `Upload-Length`."""
    upload = _owned(settings, user, upload_id)
    headers = _tus_headers(
        **{
            "Upload-Offset": str(upload.offset),
            "Upload-Length": str(upload.length),
            "Upload-Expires": upload.expires(settings),
        }
    )
    return Response(status_code=200, headers=headers)


@router.patch("/uploads/{upload_id}", status_code=204, response_model=None)
async def append_upload(
    upload_id: UploadId, request: Request, user: CurrentUser, settings: SettingsDep
) -> Response:
    """Append the body at `Upload-Offset`, which must be what the server holds (409
    upload_offset_mismatch otherwise, with the right offset in the message)."""
    _check_version(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_TYPE:
        raise AppError("unsupported_media_type", expected=OFFSET_TYPE)
    upload = _owned(settings, user, upload_id)
    offset = _int_header(request, "upload-offset")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and offset + int(declared) > upload.length:
        raise AppError("validation_error", detail="the body goes past Upload-Length")
    with upload.data.open("ab") as out:
        try:
            # One writer per upload, across processes: a retry may arrive while the server is
            # still reading the PATCH whose connection dropped.
            fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AppError("upload_busy") from None
        held = out.tell()
        if offset != held:
            raise AppError("upload_offset_mismatch", offset=held)
        written = held
        try:
            async for chunk in request.stream():
                if written + len(chunk) > upload.length:
                    raise AppError("validation_error", detail="the body goes past Upload-Length")
                await run_in_threadpool(out.write, chunk)
                written += len(chunk)
        except ClientDisconnect:
            # The connection dropped: what arrived is kept, the next HEAD reports it.
            pass
        except OSError as exc:
            if is_disk_full(exc):
                raise AppError("storage_full") from exc
            raise
        finally:
            out.flush()
    headers = _tus_headers(
        **{"Upload-Offset": str(written), "Upload-Expires": upload.expires(settings)}
    )
    return Response(status_code=204, headers=headers)


@router.delete("/uploads/{upload_id}", status_code=204, response_model=None)
def terminate_upload(upload_id: UploadId, user: CurrentUser, settings: SettingsDep) -> Response:
    _owned(settings, user, upload_id).delete()
    return Response(status_code=204, headers=_tus_headers())


@router.post(
    "/uploads/{upload_id}/run", status_code=202, response_model=RunCreated, responses=RUN_LINKS
)
async def upload_to_run(
    upload_id: UploadId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    storage: StorageDep,
    settings: SettingsDep,
) -> RunCreated:
    """The complete upload becomes a run, through the same checks as POST /api/runs, plus a
    look for a person on a few frames: a recording refused here (too short, nobody in it) is
    refused while the customer is still there. A refused upload is deleted."""
    upload = _owned(settings, user, upload_id)
    fields = upload.metadata
    if fields.get("language") in ("ja", "en"):
        request.state.request_language = fields["language"]
    if upload.offset != upload.length:
        raise AppError("upload_incomplete", offset=upload.offset, length=upload.length)
    staged = upload.folder / f"{upload.id}.run"
    try:
        upload.data.rename(staged)  # a second finish finds nothing to make a run of
    except FileNotFoundError:
        raise AppError("not_found") from None
    try:
        created = await start_run(
            request,
            session,
            storage,
            settings,
            user,
            _options(fields, user),
            fields.get("person"),
            safe_filename(fields.get("filename") or "recording.webm"),
            staged,
            check=check_person,
        )
    except AppError as exc:
        if exc.code in REFUSED_CLIP:
            upload.delete()  # the clip itself is refused: no finish will ever take it
        elif staged.exists():
            staged.rename(upload.data)  # a full queue or disk: the same upload can finish later
        raise
    except BaseException:
        if staged.exists():
            staged.rename(upload.data)
        raise
    upload.delete()
    return created
