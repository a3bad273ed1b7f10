"""Server-rendered web pages: sign-in, upload and run pages (ja/en), on a signed session cookie."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from formcoach.gateway import service
from formcoach.gateway.report import build_report
from formcoach.kit.accounts import User, authenticate_password
from formcoach.kit.api import DbSession, StorageDep
from formcoach.kit.errors import AppError
from formcoach.kit.i18n import parse_accept_language

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

TEXT: dict[str, dict[str, str]] = {
    "title": {"ja": "formcoach フォーム分析", "en": "formcoach form analysis"},
    "sign_in": {"ja": "サインイン", "en": "Sign in"},
    "sign_out": {"ja": "サインアウト", "en": "Sign out"},
    "username": {"ja": "ユーザー名", "en": "Username"},
    "password": {"ja": "パスワード", "en": "Password"},
    "bad_login": {
        "ja": "ユーザー名またはパスワードが違います。",
        "en": "Wrong username or password.",
    },
    "new_analysis": {"ja": "新しい分析", "en": "New analysis"},
    "video": {"ja": "動画ファイル", "en": "Video file"},
    "movement": {"ja": "種目", "en": "Movement"},
    "view": {"ja": "撮影方向", "en": "Camera view"},
    "height": {"ja": "身長 (cm、任意)", "en": "Height (cm, optional)"},
    "language": {"ja": "レポートの言語", "en": "Report language"},
    "upload": {"ja": "アップロードして分析", "en": "Upload and analyse"},
    "film_tip": {
        "ja": "撮影のコツ: 3〜5 m 離れて真横から、全身が入るように、できれば 60 fps で撮影してください。",
        "en": "Filming tip: from the side, 3–5 m away, whole body in frame, 60 fps if possible.",
    },
    "history": {"ja": "分析履歴", "en": "History"},
    "status": {"ja": "状態", "en": "Status"},
    "progress": {"ja": "進捗", "en": "Progress"},
    "stage": {"ja": "段階", "en": "Stage"},
    "report": {"ja": "レポート", "en": "Report"},
    "annotated": {"ja": "解析動画", "en": "Annotated video"},
    "metrics": {"ja": "計測値", "en": "Metrics"},
    "findings": {"ja": "所見", "en": "Findings"},
    "advice": {"ja": "アドバイス", "en": "Advice"},
    "drills": {"ja": "ドリル", "en": "Drills"},
    "dose": {"ja": "回数・時間", "en": "Dose"},
    "reference": {"ja": "基準", "en": "Reference"},
    "failed": {"ja": "分析に失敗しました", "en": "The analysis failed"},
    "no_runs": {"ja": "まだ分析はありません。", "en": "No analyses yet."},
    "downloads": {"ja": "ダウンロード", "en": "Downloads"},
}


def _lang(request: Request, user: User | None) -> str:
    lang = request.query_params.get("lang")
    if lang in ("ja", "en"):
        return lang
    if user is not None:
        return user.language
    return parse_accept_language(request.headers.get("accept-language"))


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return str(token)


def _session_user(request: Request, session: Session) -> User | None:
    user_id = request.session.get("user_id")
    if user_id is None:
        return None
    user = session.get(User, int(user_id))
    return user if user is not None and user.is_active else None


def _page(request: Request, name: str, user: User | None, **context: Any) -> HTMLResponse:
    lang = _lang(request, user)
    t = {key: value[lang] for key, value in TEXT.items()}
    return templates.TemplateResponse(
        request,
        name,
        {"t": t, "lang": lang, "user": user, "csrf": _csrf(request), **context},
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _page(request, "login.html", None, error=None)


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: DbSession,
    username: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    expected = str(request.session.get("csrf", ""))
    user = None
    if expected and hmac.compare_digest(csrf, expected):
        user = authenticate_password(session, username, password)
    if user is None:
        response = _page(request, "login.html", None, error=TEXT["bad_login"])
        response.status_code = 401
        return response
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["csrf"] = secrets.token_urlsafe(24)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> RedirectResponse:
    if hmac.compare_digest(csrf, str(request.session.get("csrf", ""))):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse, response_model=None)
def home(request: Request, session: DbSession) -> Response:
    user = _session_user(request, session)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    runs, _ = service.list_runs(session, user, 1, 50)
    return _page(request, "home.html", user, runs=runs)


@router.get("/runs/{run_id}", response_class=HTMLResponse, response_model=None)
def run_page(run_id: int, request: Request, session: DbSession, storage: StorageDep) -> Response:
    user = _session_user(request, session)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    try:
        run = service.get_run_for_user(session, user.id, run_id)
    except AppError:
        return _page(request, "missing.html", user)
    report = build_report(run, storage, _lang(request, user)) if run.status == "completed" else None
    return _page(request, "run.html", user, run=service.run_view(run), report=report)
