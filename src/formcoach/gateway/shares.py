"""Share links: a random token opens one run's report and its videos, read-only, until it
expires or is revoked. The API (`/api/runs/{id}/shares`) is for the run's owner; the public
page that a token opens is gateway/web_share.py."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import segno
from fastapi import APIRouter, Request, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from formcoach.accounts.deps import CurrentUser
from formcoach.accounts.users import utcnow
from formcoach.kit.api import DbSession, IdPath, SettingsDep
from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings
from formcoach.runs import service as runs_service
from formcoach.runs.models import Run, ShareLink

router = APIRouter(tags=["runs"])

# 32 random bytes (256 bits): unguessable, and short enough for a QR code a phone reads.
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    # A plain SHA-256 is enough: the token is random, so there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def _loopback(host: str) -> bool:
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_base(settings: Settings, request: Request | None = None) -> str | None:
    """The shop's public base URL: FORMCOACH_PUBLIC_URL, else the address the request came to
    unless it is a loopback one (no customer's phone reaches it). None: no usable address."""
    for base in (settings.public_url, str(request.base_url) if request else None):
        if base and not _loopback(urlsplit(base).hostname or ""):
            return base.rstrip("/")
    return None


def share_url(settings: Settings, request: Request | None, token: str) -> dict[str, Any]:
    """The link's path, its absolute URL and QR code (None without a public base URL)."""
    path = f"/s/{token}"
    base = public_base(settings, request)
    if base is None:
        return {"path": path, "url": None, "qr_svg": None}
    url = base + path
    # segno writes the SVG itself; the URL is ours (base setting + random token).
    svg = segno.make(url, error="m").svg_inline(scale=3, dark="#10243e")
    return {"path": path, "url": url, "qr_svg": Markup(svg)}


def create_share(session: Session, settings: Settings, run: Run) -> tuple[ShareLink, str]:
    if run.status != "completed":
        raise AppError("run_not_ready", status=run.status)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = ShareLink(
        run_id=run.id,
        token_hash=token_hash(token),
        expires_at=utcnow() + timedelta(days=settings.share_ttl_days),
    )
    session.add(link)
    session.flush()
    return link, token


def open_share(session: Session, token: str) -> Run:
    """The run a token opens: share_not_found (404) for an unknown token, share_gone (410) for
    an expired or revoked one."""
    link = session.scalar(select(ShareLink).where(ShareLink.token_hash == token_hash(token)))
    if link is None:
        raise AppError("share_not_found")
    if link.revoked_at is not None or link.expires_at <= utcnow():
        raise AppError("share_gone")
    run = session.get(Run, link.run_id)
    if run is None or run.status != "completed":
        raise AppError("share_gone")
    return run


def _view(link: ShareLink) -> dict[str, Any]:
    now = utcnow()
    state = "revoked" if link.revoked_at else "expired" if link.expires_at <= now else "active"
    return {
        "id": link.id,
        "run_id": link.run_id,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat(),
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        "state": state,
    }


@router.post("/runs/{run_id}/shares", status_code=201)
def post_share(
    run_id: IdPath, request: Request, user: CurrentUser, session: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """A new link; the token is in this answer only (the server keeps its hash)."""
    run = runs_service.get_run_for_user(session, user.id, run_id)
    link, token = create_share(session, settings, run)
    session.commit()
    where = share_url(settings, request, token)
    return _view(link) | {
        "token": token,
        "path": where["path"],
        "url": where["url"],
        "qr_svg": str(where["qr_svg"]) if where["qr_svg"] else None,
    }


@router.get("/runs/{run_id}/shares")
def list_shares(run_id: IdPath, user: CurrentUser, session: DbSession) -> list[dict[str, Any]]:
    run = runs_service.get_run_for_user(session, user.id, run_id)
    links = session.scalars(
        select(ShareLink).where(ShareLink.run_id == run.id).order_by(ShareLink.id)
    )
    return [_view(link) for link in links]


@router.delete("/runs/{run_id}/shares/{share_id}", status_code=204)
def revoke_share(
    run_id: IdPath, share_id: IdPath, user: CurrentUser, session: DbSession
) -> Response:
    run = runs_service.get_run_for_user(session, user.id, run_id)
    link = session.get(ShareLink, share_id)
    if link is None or link.run_id != run.id:
        raise AppError("not_found")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        session.commit()
    return Response(status_code=204)
