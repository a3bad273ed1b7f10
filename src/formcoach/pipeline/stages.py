"""The one stage table: every fact about a stage, in pipeline order.

Results before videos: analysis and advice need only the pose and features, so they run
right after features and the report is ready then; the annotated video and the drill videos
(kit.pipeline.FOLLOW_UP_OUTPUTS) come last, while the page already shows the report.

Adding a stage is one row here (and its service's ``jobs`` function). The run's stage rows,
the progress weights, the Celery queues and the progress page's labels all read this table.

Each row calls its service's stage function through a typed import inside a small function,
so mypy and the import graph see the pipeline's real flow while importing the pipeline stays
light: the pose stage's module loads MediaPipe (seconds), only needed where a pose job runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from formcoach.kit.i18n import Text
from formcoach.kit.pipeline import FOLLOW_UP_OUTPUTS, StageContext

StageFunction = Callable[[StageContext], None]


def _probe(ctx: StageContext) -> None:
    from formcoach.video_processing import jobs

    jobs.run_probe(ctx)


def _pose(ctx: StageContext) -> None:
    from formcoach.pose_estimation import jobs

    jobs.run(ctx)


def _features(ctx: StageContext) -> None:
    from formcoach.feature_extraction import jobs

    jobs.run(ctx)


def _annotate(ctx: StageContext) -> None:
    from formcoach.video_processing import jobs

    jobs.run_annotate(ctx)


def _analysis(ctx: StageContext) -> None:
    from formcoach.analysis import jobs

    jobs.run(ctx)


def _advice(ctx: StageContext) -> None:
    from formcoach.advice_generation import jobs

    jobs.run(ctx)


def _drill_videos(ctx: StageContext) -> None:
    from formcoach.video_generation import jobs

    jobs.run(ctx)


@dataclass(frozen=True)
class Stage:
    name: str
    run: StageFunction
    # Share of the run's progress bar, roughly its share of the time.
    weight: float
    # The Celery queue: that of the service that owns the stage.
    queue: str
    label: Text
    # The module the stage's function lives in, imported before serving (cli.preload_stages).
    module: str


STAGE_TABLE: tuple[Stage, ...] = (
    Stage(
        "probe",
        _probe,
        12,
        "video_processing",
        {"ja": "動画の確認と変換", "en": "Checking and converting the video"},
        "formcoach.video_processing.jobs",
    ),
    Stage(
        "pose",
        _pose,
        50,
        "pose_estimation",
        {"ja": "姿勢の推定", "en": "Finding the body in every frame"},
        "formcoach.pose_estimation.jobs",
    ),
    Stage(
        "features",
        _features,
        3,
        "feature_extraction",
        {"ja": "角度とピッチの計測", "en": "Measuring angles and cadence"},
        "formcoach.feature_extraction.jobs",
    ),
    Stage(
        "analysis",
        _analysis,
        2,
        "analysis",
        {"ja": "基準値との比較", "en": "Comparing with reference values"},
        "formcoach.analysis.jobs",
    ),
    Stage(
        "advice",
        _advice,
        2,
        "advice_generation",
        {"ja": "アドバイスの作成", "en": "Writing the advice"},
        "formcoach.advice_generation.jobs",
    ),
    Stage(
        "annotate",
        _annotate,
        15,
        "video_processing",
        {"ja": "解析動画の作成", "en": "Drawing the annotated video"},
        "formcoach.video_processing.jobs",
    ),
    Stage(
        "drill_videos",
        _drill_videos,
        16,
        "video_generation",
        {"ja": "ドリル動画の作成", "en": "Making the drill videos"},
        "formcoach.video_generation.jobs",
    ),
)

STAGES: tuple[str, ...] = tuple(stage.name for stage in STAGE_TABLE)
BY_NAME: dict[str, Stage] = {stage.name: stage for stage in STAGE_TABLE}
STAGE_WEIGHTS: dict[str, float] = {stage.name: stage.weight for stage in STAGE_TABLE}
STAGE_QUEUES: dict[str, str] = {stage.name: stage.queue for stage in STAGE_TABLE}
STAGE_LABELS: dict[str, Text] = {stage.name: stage.label for stage in STAGE_TABLE}

# The stages the report waits for; every follow-up stage runs after all of them.
REPORT_STAGES: tuple[str, ...] = tuple(s for s in STAGES if s not in FOLLOW_UP_OUTPUTS.values())
if STAGES[: len(REPORT_STAGES)] != REPORT_STAGES:
    raise RuntimeError("the follow-up stages (FOLLOW_UP_OUTPUTS) must come after all others")
