"""The security headers of every response (CSP, HSTS behind TLS, and the rest)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from formcoach.kit.settings import Settings

# --- security headers -----------------------------------------------------------------------

# The pages load only their own script and stylesheet (no inline script or style), so the
# policy needs no 'unsafe-inline'. Videos play from same-origin URLs; QR codes are inline SVG.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# /docs is Swagger UI from this app's own files (kit/webdocs.py), started by FastAPI's inline
# script; Swagger UI styles its elements inline.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
# The new-analysis page records with the device camera (issue 21): it alone may use it, and
# plays the take back from a blob: URL before it is sent.
RECORD_PATHS = frozenset({"/"})
RECORD_CSP = PAGE_CSP.replace("media-src 'self'", "media-src 'self' blob:")
PERMISSIONS = b"camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
RECORD_PERMISSIONS = PERMISSIONS.replace(b"camera=()", b"camera=(self)")
BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Run ids in page addresses stay on this site.
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# One year (the hstspreload.org minimum), only when the browser reached us over TLS.
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    """Pure ASGI middleware (streamed bodies pass untouched) adding the headers to every answer."""

    def __init__(self, app: ASGIApp, tls: bool) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        csp = DOCS_CSP if path in DOCS_PATHS else RECORD_CSP if path in RECORD_PATHS else PAGE_CSP
        # No page but the recorder uses the camera; none uses microphone or location: a script
        # injected somehow cannot either.
        permissions = RECORD_PERMISSIONS if path in RECORD_PATHS else PERMISSIONS
        extra = [
            *BASE_HEADERS,
            (b"permissions-policy", permissions),
            (b"content-security-policy", csp.encode()),
        ]
        if self.tls or scope.get("scheme") == "https":
            extra.append(HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in extra if n not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Headers on every response."""
    build_stack = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware, which add_middleware cannot reach: the 500
        # it sends for an unhandled exception carries the headers too.
        # secure_cookies is the "served behind TLS" switch (README): HSTS follows it.
        return SecurityHeaders(build_stack(), tls=settings.secure_cookies)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
