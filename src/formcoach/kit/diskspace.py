"""Disk space as a condition of its own: a full disk is the server's fault, never the client's.

Three places meet it: ``/api/ready`` (free space below ``min_free_disk_mb`` is not ready),
uploads (refused with 507 storage_full before a byte is written when space is already below
the threshold, and when the disk fills while the body streams in), and pipeline stages (an
ENOSPC/EDQUOT anywhere in a stage leaves the stage pending and the run waiting: see
pipeline/orchestrator.py).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from formcoach.kit.errors import AppError
from formcoach.kit.settings import Settings

# No space on the device, or the user's quota on it is used up: both clear when space is freed.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether the failure is (or was caused by) a full disk: libraries wrap the OSError
    (PyAV's av.error.OSError is one, a stage's AppError raised ``from`` it another)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, AppError) and exc.code == "storage_full":
            return True
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def free_mb(path: Path) -> float:
    """Free space (MiB, for an unprivileged writer) of the filesystem holding ``path``."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free / (1024 * 1024)


def local_dirs(settings: Settings) -> list[Path]:
    """The folders this process writes to: uploads stream into data_dir/tmp, files go to
    files_dir unless storage is S3 (then only the local cache of its objects)."""
    dirs = [settings.data_dir]
    if settings.storage_url:
        if settings.storage_cache_dir is not None:
            dirs.append(settings.storage_cache_dir)
    else:
        dirs.append(settings.files_dir)
    return dirs


def lowest_free_mb(settings: Settings) -> float:
    return min(free_mb(path) for path in local_dirs(settings))


def require_free_space(settings: Settings) -> None:
    """Raise storage_full when any local folder has less than the threshold left."""
    if lowest_free_mb(settings) < settings.min_free_disk_mb:
        raise AppError("storage_full")
