"""File storage addressed by keys that formcoach builds itself (never user-supplied names).

Keys look like ``runs/42/proxy.mp4``. The local-folder implementation is the default; the
interface is small so that an object store can stand behind it.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

_KEY = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*$")


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class Storage(Protocol):
    def put_file(self, key: str, src: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def size(self, key: str) -> int: ...
    def open(self, key: str) -> BinaryIO: ...
    def local_path(self, key: str) -> Path: ...
    def writer(self, key: str, suffix: str = "") -> AbstractContextManager[Path]: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...


class LocalStorage:
    """Files under one root folder; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def local_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    @contextmanager
    def writer(self, key: str, suffix: str = "") -> Iterator[Path]:
        """A temporary path to write to; it becomes ``key`` only if the block succeeds."""
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-", suffix=suffix)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, src: Path) -> None:
        with self.writer(key) as tmp:
            shutil.copyfile(src, tmp)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self.writer(key) as tmp:
            tmp.write_bytes(data)

    def get_bytes(self, key: str) -> bytes:
        return self.local_path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        return self.local_path(key).stat().st_size

    def open(self, key: str) -> BinaryIO:
        return self.local_path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        target = self.root / check_key(prefix.rstrip("/"))
        if target.is_dir():
            shutil.rmtree(target)
        elif target.is_file():
            target.unlink()

    def list(self, prefix: str) -> list[str]:
        target = self.root / check_key(prefix.rstrip("/"))
        if not target.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in target.rglob("*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )


def get_storage(root: Path) -> LocalStorage:
    return LocalStorage(root)


def move_into(storage: LocalStorage, key: str, src: Path) -> None:
    """Move a finished temp file into storage without copying (same filesystem), else copy."""
    final = storage._path(key)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, final)
    except OSError:
        storage.put_file(key, src)
