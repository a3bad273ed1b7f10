"""One typed settings object for the whole application (env prefix FORMCOACH_)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path("var").resolve()


def _networks(value: str) -> list[IPv4Network | IPv6Network]:
    return [ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()]


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
    # Clips too sparse for any judgement are refused with clip_too_sparse (video_processing
    # probe): fewer frames than this, or a lower frame rate. Running's cadence and gait events
    # need the feet sampled at least ~10 times a second (a 180 spm stride lasts 0.33 s); the
    # 1.5 s the judge's slowest averages need at 10 fps is 15 frames.
    min_video_frames: int = Field(default=15, ge=2)
    min_video_fps: float = Field(default=10.0, gt=0)
    # Free space (MiB) below which /api/ready is not ready and uploads get 507 storage_full,
    # so runs already accepted keep room to write their artifacts.
    min_free_disk_mb: float = Field(default=200.0, ge=0)
    # A stage that fails for a full disk waits and retries: first after this pause, doubling
    # up to storage_retry_max_s, until space is freed (the run shows storage_full meanwhile).
    storage_retry_backoff_s: float = Field(default=5.0, gt=0)
    storage_retry_max_s: float = Field(default=120.0, gt=0)
    # Largest accepted frame (width x height), checked from the header before any decoding:
    # 8K UHD (7680x4320) is the largest any phone or consumer camera records; a bigger frame
    # only costs memory (one decoded 20000x20000 frame is ~600 MB).
    max_video_pixels: int = 8192 * 4320
    # Highest accepted frame rate: phone slow motion tops out at 960 fps (Sony Xperia XZ, 2017);
    # a header claiming more is corrupt or hostile.
    max_video_fps: float = 1000.0
    # Width/height bound of the browser proxy: pose models resize to 256 px anyway.
    proxy_max_side: int = 1280
    # An upload browsers already play (H.264 yuv420p in MP4/MOV, upright, square pixels) with
    # both sides within this bound is copied into the proxy packet by packet, not re-encoded:
    # every browser plays 1080p H.264, so a phone's 1080p clip costs no decode/encode pass.
    # 0 = always re-encode.
    proxy_copy_max_side: int = 1920
    # The clip-quality scan (cuts, pans, darkness; video_processing/clip_scan.py) costs 7-20 ms a
    # frame on the report's path, and no stage reads it yet (issue 19 item 4): off until one does.
    clip_scan: bool = False
    # Fraction of frames that must contain a person; below it the run fails with no_person_detected.
    min_detection_rate: float = 0.3
    pose_model_complexity: int = 1
    # The pose stage shrinks proxy frames larger than this (a proxy copied from a 1080p
    # upload) for the model, coordinates scaled back: the model sees 256 px anyway, and the
    # frames it buffers and copies stay at most 720p-sized (at 1080p a 60 s clip peaked at
    # 1.1 GB). Whole factors where they keep 3/4 of it (1080p -> 960x540): see model_size.
    pose_max_side: int = 1280
    pose_min_detection_confidence: float = 0.5
    pose_min_tracking_confidence: float = 0.5
    keypoint_min_visibility: float = 0.3
    # People looked for in each frame (one MediaPipe graph each); 1 = single-person mode.
    pose_max_people: int = 2
    # Mean visibility of the body-outline landmarks below which a detection is a ghost.
    pose_min_person_quality: float = 0.5
    # When the extra graphs look for someone else (pose_estimation/search.py): every frame
    # within pose_search_grace_s of losing someone (resting at once split a track on the
    # two-people fixture) or of the clip's start while the scene changes; afterwards every
    # pose_search_every_s while the scene outside the people found changes, every
    # pose_search_idle_every_s while it is still. A look costs ~12 ms, a tracked frame ~23:
    # looking every 0.2 s is 9 % of a one-person clip, every 1 s 2 %. A newcomer found late
    # is followed back through the last pose_backfill_s of frames.
    pose_search_every_s: float = 0.2
    pose_search_idle_every_s: float = 1.0
    pose_search_grace_s: float = 0.5
    # A newcomer found by a search is followed back through the frames of the last
    # pose_backfill_s (at most pose_backfill_max_frames kept, ~2.7 MB each at 720p): the
    # person detector misses people half in view at the frame edge on most frames, so the
    # frames between the searches get them too (0.5 s of a person entering on the fixture).
    pose_backfill_s: float = 0.6
    pose_backfill_max_frames: int = 24
    # Clips at least this long run pose estimation as two halves in two threads (both cores).
    # The cost is the second half's warm-up overlap and ~100 MB per extra graph. Not below
    # 10 s: MediaPipe's tracking depends on where it starts, and on the 7.7 s two-people
    # fixture a split half-way lost 12 frames of the subject's left knee (178 of 230 valid
    # instead of 190).
    pose_workers: int = 2
    pose_parallel_min_s: float = 10.0
    # The second half starts this much earlier, unkept, so its trackers are warm at the seam.
    pose_chunk_overlap_s: float = 1.0
    # A detection joins a track when its landmarks lie within this many body sizes of the
    # track's last position (per second of gap, plus a base allowance).
    track_max_distance: float = 0.35
    track_max_distance_per_s: float = 2.0
    # Tracks lost for longer than this end; a new one may later be merged back by continuity.
    track_max_lost_s: float = 2.0
    # A track's last landmarks are carried on at its centre's velocity over the last
    # track_velocity_window_s (for at most track_predict_max_s of gap) before matching: two
    # walkers passing each other swapped ids without it (tests/pose_estimation/test_pose_reid.py).
    track_velocity_window_s: float = 0.3
    track_predict_max_s: float = 1.0
    # Across a camera cut a person reappears anywhere in the frame: a track that starts within
    # track_rejoin_max_gap_s of another's end, while nobody else is in view, with body
    # proportions within track_rejoin_max_proportion_diff, continues it (pose_estimation/rejoin.py).
    track_rejoin_max_gap_s: float = 0.5
    track_rejoin_max_proportion_diff: float = 0.25
    # Tracks shorter than this are dropped as false detections.
    track_min_duration_s: float = 0.5
    # For a walk or run the subject is a person whose centre travels at least this many body
    # sizes (the two-people demo: the walker ≈ several, the man on the roof well under one).
    subject_gait_min_travel: float = 1.0
    # Otherwise the subject is the performer: the highest product of parts, each 0..1, raised
    # to its weight (pose_estimation/subject.py). Measured on the two-people fixture's proxy
    # (man on the roof / woman walking): size 0.49 / 0.54, seen 0.90 / 0.74, whole body 0.86 /
    # 0.86, centrality 0.51 / 0.51, motion 0.63 / 0.88, travel 2.6 / 4.6 body sizes; size x
    # seen (the old prominence, 187.8 / 172.3) picked the man, who jumps off a roof but goes
    # nowhere for half the clip; the score now is 0.17 / 0.24. The size part is full at a body size (shoulder-hip-knee-ankle)
    # of this share of the frame height; a landmark counts as seen at this visibility.
    subject_size_full: float = 0.6
    subject_visibility_min: float = 0.5
    # Motion: the median speed of the body-outline landmarks over subject_motion_lag_s (long
    # enough that estimation jitter reads little: the squat fixture's lifter, standing still
    # most of the clip, has a median of 0.05 body sizes/s), full at subject_motion_full_speed
    # body sizes/s (the fixture walkers: 0.86 and 0.91 median); someone still
    # keeps subject_motion_floor of their score (a clip may show a held pose).
    subject_motion_lag_s: float = 0.2
    subject_motion_full_speed: float = 1.0
    subject_motion_floor: float = 0.2
    # Weights (exponents; 0 leaves a part out). Visibility and centrality count half: a
    # performer walks behind a tree or off-centre, a bystander may stand in the middle.
    subject_weight_size: float = 1.0
    subject_weight_seen: float = 1.0
    subject_weight_whole_body: float = 0.5
    subject_weight_centrality: float = 0.5
    subject_weight_motion: float = 1.0
    # Travel across the frame (body sizes), full at subject_travel_full (a walker crossing a
    # landscape frame: 4.0 on demo4, 4.4 on the two-people clip); someone in place keeps
    # subject_travel_floor. Motion alone rated the man moving on the spot before his jump
    # 0.63 against the walker's 0.88, within the close margin.
    subject_travel_full: float = 4.0
    subject_travel_floor: float = 0.5
    subject_weight_travel: float = 1.0
    # Two candidates whose subject scores are within this share of the best are "close": the
    # report says so and the results page offers the picker first (pose_estimation/subject.py).
    subject_close_margin: float = 0.2
    # Hampel outlier rejection on keypoint coordinates: window half-width and threshold.
    hampel_half_window_s: float = 0.1
    hampel_n_sigma: float = 3.0
    # Price, in body sizes of limb movement, of relabelling one frame's left/right limbs: the
    # model's labels stand unless swapping them makes the motion smoother by more than this.
    swap_prior: float = 0.15
    # Left/right relabelling runs only on frames whose shoulder width / torso length (in the
    # image) is at most this: a side or oblique view. Facing the camera it is ≈0.8+; at 0.5 the
    # side-view walker of the two-people fixture lost needed fixes (test_pose_sides).
    swap_max_frontalness: float = 0.7
    filter_cutoff_hz: float = 6.0
    filter_order: int = 4
    # Longest gap in a landmark's track that is filled by interpolation (0.15 s = 4 frames at
    # 30 fps, 9 at 60): a blink of the model, not a movement. Longer gaps stay missing, and
    # no peak is ever read from a filled sample (ANGLES.md).
    max_gap_s: float = 0.15
    # A landmark this far (fraction of the frame) outside the picture is a guess of the model,
    # not a measurement, whatever its visibility says.
    landmark_frame_margin: float = 0.0
    # A metric read from fewer observed frames than this is not_measurable (5 frames at
    # 30 fps is 0.17 s: too few to hold one repetition's turning point).
    min_observed_frames: int = 5
    # Stature used for pixel -> metre scaling when the run gives no height_cm (noted in output).
    default_height_cm: float = 170.0
    reference_file: Path | None = None
    drill_library_file: Path | None = None
    drill_video_size: Literal["1280x720", "720x1280"] = "1280x720"
    drill_video_seconds: Literal["4", "8", "12"] = "8"
    video_generator: Literal["local", "openai-videos"] = "local"
    # The /v1/videos protocol (OpenAI's, or a gateway that copies it); the key has no default.
    openai_videos_base_url: str = "https://api.openai.com/v1"
    openai_videos_api_key: str | None = None
    openai_videos_model: str = "sora-2"
    # Paid cloud seconds per UTC day, summed over every job that reached the provider.
    video_budget_seconds_per_day: int = 120
    # A drill figure with the user's proportions (figure_from_run): each segment's length is this
    # percentile of its per-frame lengths in the run (full length shows when it is parallel to
    # the image), kept within this fraction of Winter's standard value (Winter 2009, fig. 4.1;
    # ±15% spans ≈2 SD of adult segment-length ratios [H]).
    drill_figure_length_percentile: float = 90.0
    drill_figure_max_deviation: float = 0.15
    # Per HTTP request; a create that times out is looked up, never blindly re-sent.
    cloud_request_timeout_s: float = 60.0
    cloud_poll_interval_s: float = 5.0
    # Longest wait for a provider job to finish before the job is marked provider_unavailable.
    cloud_max_wait_s: float = 1800.0
    # Attempts per provider call (create, look-up, download) before giving up.
    cloud_attempts: int = 4
    # Base of the exponential backoff between attempts; Retry-After wins when it is longer.
    cloud_backoff_s: float = 2.0
    # A Retry-After longer than this is not waited for: the job fails provider_rate_limited.
    cloud_max_retry_after_s: float = 120.0
    # Optional LLM rewriting of the rule-based advice through any OpenAI-compatible chat
    # endpoint; off unless base URL and model are set. The key has no default.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout_s: float = 30.0
    job_workers: int = 2
    # Share links (gateway/shares.py): days a customer's read-only link stays open, and the
    # shop's public base URL the link and its QR code use (a loopback address never works
    # on a customer's phone, so without it the page shows no QR code).
    share_ttl_days: int = Field(default=30, ge=1, le=365)
    public_url: str | None = None
    # Runs one user may have queued or running at once (uploads and reanalyses past it: 429
    # too_many_queued_runs), so that one user cannot fill the queue for a shop's other users;
    # 0 = no limit.
    max_queued_runs_per_user: int = Field(default=3, ge=0)
    # Resumable uploads (the page's recordings, gateway/uploads.py): unfinished uploads one user
    # may hold, and how long one may sit untouched before it counts as abandoned and is deleted.
    upload_max_pending_per_user: int = Field(default=4, ge=1)
    upload_expiry_s: float = Field(default=86400.0, gt=0)
    # Size of each PATCH the page sends: small enough that a dropped Wi-Fi loses little.
    upload_chunk_kb: int = Field(default=1024, ge=16)
    # Run the in-process jobs in one child process (its own interpreter: no GIL shared with the
    # web requests), and add job_nice to the nice value of the jobs (process or threads, and
    # what they start): web requests get the CPU first while a pose job runs. `formcoach serve`
    # makes them True and 10 unless FORMCOACH_JOB_PROCESS / FORMCOACH_JOB_NICE are set; apps
    # built in code (tests) keep threads at normal priority.
    job_process: bool = False
    job_nice: int = Field(default=0, ge=0, le=19)
    # Celery broker (Redis); unset means the in-process thread runner of the one-process default.
    broker_url: str | None = None
    # Longer than the slowest stage, or Redis hands a running pose job to a second worker.
    broker_visibility_timeout_s: int = 7200
    # A running task refreshes its lease this often; a lease silent for job_lease_s is dead.
    job_heartbeat_s: float = 5.0
    job_lease_s: float = 30.0
    # How often the gateway looks for unfinished runs whose work was lost (e.g. Redis restart).
    watchdog_interval_s: float = 15.0
    # Retries of a stage after a transient failure (database, broker, storage), with backoff.
    job_max_retries: int = 6
    job_retry_backoff_s: float = 2.0
    # s3://bucket/prefix puts every file in S3-compatible object storage; unset = files_dir.
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # Where S3 objects are downloaded for stages that need a local file.
    storage_cache_dir: Path | None = None
    # Base URL of each service run as its own process; unset = served inside the gateway.
    video_processing_url: str | None = None
    pose_estimation_url: str | None = None
    feature_extraction_url: str | None = None
    analysis_url: str | None = None
    advice_generation_url: str | None = None
    video_generation_url: str | None = None
    proxy_timeout_s: float = 300.0
    # Live progress (GET /api/runs/{id}/events): how often the stream reads the run's rows
    # (the job runner writes progress at most a few times a second), a comment line this often
    # so proxies keep an idle stream open (nginx drops it after 60 s of silence by default), and
    # the longest a stream stays open (the progress page then goes on by polling).
    events_poll_s: float = 0.5
    events_heartbeat_s: float = 15.0
    events_max_s: float = 1800.0
    # The progress page's time remaining (gateway/eta.py): a run is first expected to take
    # this many seconds per second of clip plus a fixed part (drill videos), measured on the
    # 2-core reference machine (bench/results/pose.json, drill_videos.json); the prior counts
    # as eta_prior_weight of the run's work, and a running stage's own pace is trusted once
    # it has reported this much progress.
    eta_prior_s_per_clip_s: float = Field(default=2.0, gt=0)
    eta_prior_fixed_s: float = Field(default=8.0, ge=0)
    eta_prior_weight: float = Field(default=0.15, gt=0, le=1)
    eta_min_stage_progress: float = Field(default=0.1, gt=0, le=1)
    # Subject picker thumbnails: height of the JPEG crop of a tracked person, margin around the
    # person's box (fraction of the box), and the JPEG quality.
    track_thumbnail_px: int = 160
    track_thumbnail_margin: float = 0.15
    track_thumbnail_quality: int = 85
    default_language: Literal["ja", "en"] = "ja"
    # Set behind TLS so the session cookie is never sent in clear.
    secure_cookies: bool = False
    # Web sign-in sessions (accounts/sessions.py) are rows on the server; the cookie holds only a
    # random id. One ends after this long without a request (a tablet left signed in at the
    # counter), and in any case this long after sign-in (OWASP Session Management Cheat Sheet,
    # "Session Expiration": idle and absolute timeouts).
    session_idle_s: float = Field(default=12 * 3600.0, gt=0)
    session_max_age_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    # Sign-in throttling (accounts/throttle.py; OWASP Authentication Cheat Sheet, "Login
    # Throttling"): after this many wrong passwords from one (account, address) pair within the
    # window, that pair waits backoff_base_s, then twice as long after each further failure, up
    # to backoff_max_s. Past the per-account or per-address counts, failing pairs wait longer
    # still. A pair that has not failed is never refused, so nobody can lock a user out.
    signin_max_failures_per_pair: int = 5
    signin_max_failures_per_account: int = 20
    signin_max_failures_per_ip: int = 20
    signin_window_s: float = 900.0
    signin_backoff_base_s: float = 1.0
    signin_backoff_max_s: float = 900.0
    # Proxies whose X-Forwarded-For is believed (addresses or CIDR networks, comma-separated,
    # e.g. "10.0.0.5,172.16.0.0/12"): the nginx of the scaled-out shape. Empty: the header is
    # ignored and the peer address is the client, loopback included.
    trusted_proxies: str = ""
    # Seconds a process keeps trusting an API token it has checked (accounts/users.TokenCache):
    # the longest a token revoked by another process (a second gateway) still works here.
    token_cache_s: float = 5.0
    # Password rules (NIST SP 800-63B 5.1.1.2: at least 8 characters, no commonly used or
    # repetitive passwords, none derived from the username); 10 is this app's stricter floor.
    password_min_length: int = 10
    # Logs: one JSON object per line (with run_id/stage/user_id), or "text" for reading by eye.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Runs (videos, artifacts, drill videos, rows) older than this many days are deleted by the
    # gateway's periodic sweep and by `formcoach purge`; None keeps everything forever.
    retention_days: int | None = Field(default=None, ge=1)
    retention_sweep_interval_s: float = 3600.0
    # /metrics: a Prometheus scraper sends "Authorization: Bearer <this>"; unset = admins only.
    metrics_token: str | None = None
    # Price of one generated second on the cloud generator, for the cost metric: OpenAI's
    # published sora-2 price, USD 0.10 per second at 720p (platform.openai.com/docs/pricing).
    cloud_video_usd_per_second: float = 0.10

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

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        _networks(value)  # a typo fails at start-up, not silently at the first sign-in
        return value

    def trusted_proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        return _networks(self.trusted_proxies)

    def session_secret(self) -> str:
        """The key session ids are hashed with before they are stored (accounts/sessions.py): from
        the environment, else one random key kept in the data dir.

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
