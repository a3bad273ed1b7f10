"""Schemas of the video_generation service: the seed's generate request and status views."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from formcoach.kit.i18n import Language

Size = Literal["1280x720", "720x1280"]
Seconds = Literal["4", "8", "12"]
ViewStatus = Literal["queued", "running", "success", "failed"]


class GenerateRequest(BaseModel):
    """The seed's request: {"run_id", "drill_text", "size", "seconds"}; language is optional.

    Size and length default to the server's settings; language defaults to the run's.
    """

    run_id: int = Field(ge=1, le=2**63 - 1)
    drill_text: str = Field(min_length=1, max_length=2000)
    size: Size | None = None
    seconds: Seconds | None = None
    language: Literal["ja", "en"] | None = None
    # The figure takes the proportions measured in this run of yours (default: standard figure).
    figure_from_run: int | None = Field(default=None, ge=1, le=2**63 - 1)

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds_as_text(cls, value: Any) -> Any:
        # The seed sends "4"; a client sending the number 4 means the same thing.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


class JobError(BaseModel):
    code: str
    message: str


class JobOut(BaseModel):
    run_id: int
    job_id: int
    status: ViewStatus
    message: str
    video_url: str | None
    error: JobError | None
    drill_id: str
    size: str
    seconds: str
    language: Language
    generator: str = "local"
    figure: str = "standard"  # "standard", or the code of a user's proportions
    thumbnail_url: str | None


class RunVideosOut(JobOut):
    """The latest job of the run (the seed's status shape) plus every job of the run."""

    jobs: list[JobOut]


class DrillOut(BaseModel):
    """A drill that can be generated; ``own_motion`` is false when a posture's default stands in."""

    drill_id: str
    name: str
    posture: str
    kind: str
    motion: str
    own_motion: bool
    sizes: list[str]
    seconds: list[str]
    languages: list[str]
    generators: list[str]
    default_generator: str
