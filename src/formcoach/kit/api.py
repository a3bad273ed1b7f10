"""FastAPI plumbing shared by every service router: dependencies, errors, service info."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from formcoach import __version__
from formcoach.kit.db import request_slots, session_scope
from formcoach.kit.diskspace import is_disk_full
from formcoach.kit.errors import CATALOGUE, AppError, error_body, render_message
from formcoach.kit.i18n import Language, accepted_language, as_language
from formcoach.kit.settings import Settings, get_settings
from formcoach.kit.storage import Storage, get_storage

# Every id is a positive database integer: bounded in the schema, so an id past int64 is a
# documented 422 validation_error (not a surprise of the database driver).
ID_MAX = 2**63 - 1
IdPath = Annotated[int, Path(ge=1, le=ID_MAX)]


def settings_dep(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


SettingsDep = Annotated[Settings, Depends(settings_dep)]


# Per event loop (asyncio primitives belong to one), then per database URL (one pool each).
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _slot_semaphore(url: str) -> asyncio.Semaphore | None:
    slots = request_slots(url)
    if slots is None:
        return None
    per_url = _SLOTS.setdefault(asyncio.get_running_loop(), {})
    semaphore = per_url.get(url)
    if semaphore is None:
        semaphore = per_url[url] = asyncio.Semaphore(slots)
    return semaphore


@asynccontextmanager
async def db_slot_held(url: str) -> AsyncIterator[None]:
    """Waits (on the event loop, holding no thread) until the pool has a connection for this
    request: fewer requests hold sessions than the pool has connections (db.request_slots), so
    no request waits in pool checkout for a connection held by one that waits for a thread."""
    semaphore = _slot_semaphore(url)
    if semaphore is None:
        yield
        return
    async with semaphore:
        yield


async def db_slot(settings: SettingsDep) -> AsyncIterator[None]:
    async with db_slot_held(settings.db_url):
        yield


def db_session(
    settings: SettingsDep, _slot: Annotated[None, Depends(db_slot)]
) -> Iterator[Session]:
    """A session around the route; committed when the route returns without error."""
    with session_scope(settings.db_url) as session:
        yield session


# scope="function": commit before the response is sent, so a page reloaded right after a
# change never reads the old state.
DbSession = Annotated[Session, Depends(db_session, scope="function")]


def storage_dep(settings: SettingsDep) -> Storage:
    return get_storage(settings)


StorageDep = Annotated[Storage, Depends(storage_dep)]


def request_language(request: Request) -> Language:
    """The language of this request's answers, errors included: what the request itself asks
    for wins over the account's setting, so an English client of a Japanese account reads
    English. In order: ``?lang=``, the upload's ``language`` field (kept by the route in
    ``request.state.request_language``), an Accept-Language naming ja or en, the user's
    setting, the default (ja)."""
    lang = as_language(request.query_params.get("lang"))
    if lang is not None:
        return lang
    asked = as_language(getattr(request.state, "request_language", None))
    if asked is not None:
        return asked
    header = accepted_language(request.headers.get("accept-language"))
    if header is not None:
        return header
    user_lang = as_language(getattr(request.state, "language", None))
    if user_lang is not None:
        return user_lang
    return "ja"


def service_info(name: str) -> dict[str, str]:
    return {"service": name, "version": __version__, "status": "ok"}


def _error_response(
    request: Request,
    code: str,
    message: str,
    status: int,
    retry_after: int | None = None,
    extra: dict[str, str] | None = None,
) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="formcoach"'} if status == 401 else {}
    headers.update(extra or {})
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if status in (413, 507):
        # Closing is the only way to stop a client still sending an oversize body (RFC 9110
        # 15.5.14); without it the server would drain the rest of the body to keep the connection.
        headers["Connection"] = "close"
    return JSONResponse(error_body(code, message), status_code=status, headers=headers or None)


# Routes anyone may call: no credentials, so no 401/403/429 to document.
PUBLIC_PATHS = frozenset({"/api/health", "/api/ready"})
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": sorted(CATALOGUE)},
                "message": {"type": "string", "description": "in the caller's language"},
            },
        }
    },
}


def _document_errors(schema: dict[str, Any]) -> None:
    """Add the error answers every operation can give to the OpenAPI schema, in place.

    Any signed-in route can answer 401 (credentials), 403 (not an administrator or not your
    own account), 404 (not yours or gone), 422 (invalid input), 429 (throttled sign-in) and
    503 (database down); uploads also 413, 415 and 507 (storage full). Answers a route
    documents itself stay.
    """
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = {422, 503} if path in PUBLIC_PATHS else {401, 403, 404, 422, 429, 503}
            content = operation.get("requestBody", {}).get("content", {})
            if "multipart/form-data" in content:
                codes |= {413, 415, 507}
            if path.endswith("/reanalyse"):
                codes |= {507}  # copies the upload
            responses = operation["responses"]
            for code in sorted(codes):
                entry = responses.setdefault(str(code), {"description": "Error"})
                entry.setdefault("content", ref["content"])
            # FastAPI documents its own 422 body ({"detail": [...]}), which this app never sends.
            validation = responses.get("422", {}).get("content", {}).get("application/json", {})
            if validation.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                responses["422"]["content"] = ref["content"]


_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route of this path takes (RFC 9110 15.5.6: a 405 lists them all).
    Starlette's own Allow names only the first route matching the path, and GET and DELETE of
    one path are two routes here. Each method is asked of the router as a request would be, so
    routes of included routers (FastAPI nests them) count too."""
    methods: set[str] = set()
    for method in _HTTP_METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            methods.add(method)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """One error shape for every route: {"error": {"code", "message"}} in the caller's language."""
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the schema it builds; the additions are idempotent.
        schema = build_openapi()
        _document_errors(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        retry_after = exc.params.get("retry_after")
        return _error_response(
            request,
            exc.code,
            exc.message(request_language(request)),
            exc.status,
            retry_after if isinstance(retry_after, int) else None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()) if p != 'body')}: {err.get('msg', '')}"
            for err in exc.errors()
        )
        lang = request_language(request)
        return _error_response(
            request,
            "validation_error",
            render_message("validation_error", lang, detail=detail),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "validation_error" if exc.status_code < 500 else "internal_error"
        )
        lang = request_language(request)
        params: dict[str, Any] = {"detail": str(exc.detail)}
        # A body that is not even JSON is invalid input like any other: 422 validation_error,
        # the status the catalogue gives that code (FastAPI would answer 400).
        status = 422 if exc.status_code == 400 else exc.status_code
        extra = None
        if status == 405:
            # Starlette's own Allow (the first route of the path) when the walk finds none.
            fallback = (exc.headers or {}).get("Allow", "")
            extra = {"Allow": _allowed_methods(request) or fallback}
        message = render_message(code, lang, **params)
        return _error_response(request, code, message, status, extra=extra)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> JSONResponse:
        # A full disk is the server's condition, not bad input (RFC 4918 11.5: 507).
        lang = request_language(request)
        if is_disk_full(exc):
            return _error_response(
                request, "storage_full", render_message("storage_full", lang), 507
            )
        return _error_response(
            request, "internal_error", render_message("internal_error", lang), 500
        )

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        # An id or number beyond the database's integer range (SQLite raises OverflowError
        # while binding it, PostgreSQL a DataError): the caller's input, not a server fault.
        lang = request_language(request)
        if isinstance(exc, OverflowError) and "SQLite INTEGER" not in str(exc):
            return _error_response(
                request, "internal_error", render_message("internal_error", lang), 500
            )
        detail = "a number is out of range"
        message = render_message("validation_error", lang, detail=detail)
        return _error_response(request, "validation_error", message, 422)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # The request's transaction was rolled back (db_session), so nothing half-made stays.
        lang = request_language(request)
        message = render_message("database_unavailable", lang)
        return _error_response(request, "database_unavailable", message, 503)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        lang = request_language(request)
        return _error_response(
            request, "internal_error", render_message("internal_error", lang), 500
        )
