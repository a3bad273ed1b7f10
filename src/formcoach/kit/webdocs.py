"""/docs from local files and ``Cache-Control: no-store`` on every private answer.

Swagger UI's script and stylesheet come from the PyPI package swagger-ui-py (pinned in
pyproject.toml and constraints.txt; Swagger UI 5, which reads OpenAPI 3.1), mounted at
``/docs-assets``: the page names no other host, so it works offline and a CDN cannot change
the script that runs beside the API's credentials. ReDoc has no registry package that ships
its bundle for Python, so ``/redoc`` is off (FastAPI's would load it from a CDN).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_ASSETS = "/docs-assets"
# Answers any cache may keep: they are the same for everyone and hold no user's data.
PUBLIC_PREFIXES = ("/static/", f"{DOCS_ASSETS}/")
NO_STORE = (b"cache-control", b"no-store")


def swagger_ui_dir() -> Path:
    return Path(str(files("swagger_ui") / "static"))


def install_docs(app: FastAPI) -> None:
    """/docs (and its OAuth2 redirect) with Swagger UI served by this app; build the app with
    docs_url=None and redoc_url=None."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_dir()), name="docs-assets")
    title = f"{app.title} - API"

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


class NoStore:
    """Pure ASGI middleware: ``Cache-Control: no-store`` on every answer but the shared
    static files. Pages, API answers, videos and thumbnails are someone's own (or, like an
    error or the sign-in page, say whether someone is signed in): no browser or proxy cache
    may keep a copy for the next user of the machine or the proxy (OWASP Session Management
    Cheat Sheet, "Web Content Caching"). It replaces a route's weaker policy (``private``,
    ``no-cache``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (b"cache-control", b"expires", b"pragma")
                ]
                message = {**message, "headers": [*headers, NO_STORE]}
            await send(message)

        await self.app(scope, receive, send_no_store)


def install_no_store(app: FastAPI) -> None:
    build_stack = app.build_middleware_stack

    def build_with_no_store() -> ASGIApp:
        # Outermost, like the security headers: the 500 of ServerErrorMiddleware gets it too.
        return NoStore(build_stack())

    app.build_middleware_stack = build_with_no_store  # type: ignore[method-assign]
