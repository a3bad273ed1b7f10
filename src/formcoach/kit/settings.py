"""One typed settings object for the whole application (env prefix FORMCOACH_)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path("var").resolve()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FORMCOACH_", env_file=None, extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    admin_password: str | None = None
    secret_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: int = 1024
    max_video_seconds: float = 600.0
    min_video_seconds: float = 1.0
    # Width/height bound of the browser proxy: pose models resize to 256 px anyway.
    proxy_max_side: int = 1280
    # Fraction of frames that must contain a person; below it the run fails with no_person_detected.
    min_detection_rate: float = 0.3
    pose_model_complexity: int = 1
    pose_min_detection_confidence: float = 0.5
    pose_min_tracking_confidence: float = 0.5
    keypoint_min_visibility: float = 0.3
    filter_cutoff_hz: float = 6.0
    filter_order: int = 4
    max_gap_s: float = 0.25
    reference_file: Path | None = None
    drill_library_file: Path | None = None
    drill_video_size: Literal["1280x720", "720x1280"] = "1280x720"
    drill_video_seconds: Literal["4", "8", "12"] = "8"
    video_generator: Literal["local"] = "local"
    job_workers: int = 2
    default_language: Literal["ja", "en"] = "ja"
    # Set behind TLS so the session cookie is never sent in clear.
    secure_cookies: bool = False

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'formcoach.db'}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def session_secret(self) -> str:
        """The cookie-signing key: from the environment, else one random key kept in the data dir.

        Production refuses to run without an explicit key so that several gateway
        processes can share sessions.
        """
        if self.secret_key:
            return self.secret_key
        if self.env == "production":
            raise RuntimeError("FORMCOACH_SECRET_KEY must be set in production")
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
