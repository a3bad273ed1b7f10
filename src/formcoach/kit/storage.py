"""File storage addressed by keys that formcoach builds itself (never user-supplied names).

Keys look like ``runs/42/proxy.mp4``. The local folder is the default; with
``FORMCOACH_STORAGE_URL=s3://bucket/prefix`` the same keys live in S3-compatible object storage
so that workers on other machines share the files (``get_storage`` picks one).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import urlparse

if TYPE_CHECKING:
    from formcoach.kit.settings import Settings

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


class S3Storage:
    """Objects under ``prefix/`` in one bucket of an S3-compatible store (AWS S3, MinIO, moto...).

    Stages that need a real file (video decoding, FileResponse) get it from ``local_path``, a
    download into a local cache named by the object's ETag, so a re-written object is never
    served stale. ``writer`` uploads only when its block succeeds, like LocalStorage's rename.
    """

    def __init__(self, client: Any, bucket: str, prefix: str, cache_dir: Path) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.cache_dir = cache_dir.resolve()
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    def _obj(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            head: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=self._obj(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head

    def local_path(self, key: str) -> Path:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        etag = str(head.get("ETag", "")).strip('"').replace("-", "_") or "noetag"
        path = self.cache_dir / etag / check_key(key)
        if path.is_file():
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        os.close(fd)
        try:
            self.client.download_file(self.bucket, self._obj(key), tmp_name)
            os.replace(tmp_name, path)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        return path

    @contextmanager
    def writer(self, key: str, suffix: str = "") -> Iterator[Path]:
        check_key(key)
        tmp_dir = self.cache_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix=".tmp-", suffix=suffix)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            self.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)

    def put_file(self, key: str, src: Path) -> None:
        # upload_file switches to multipart for big videos; a part failure aborts the upload.
        self.client.upload_file(str(src), self.bucket, self._obj(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._obj(key), Body=data)

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._obj(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(key) from None
            raise
        body: bytes = response["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        return int(head["ContentLength"])

    def open(self, key: str) -> BinaryIO:
        return self.local_path(key).open("rb")

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._obj(key))

    def _objects(self, prefix: str) -> list[str]:
        base = self._obj(prefix.rstrip("/"))
        found: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        # The trailing slash keeps runs/1 from matching runs/10.
        for page in paginator.paginate(Bucket=self.bucket, Prefix=base + "/"):
            found.extend(str(item["Key"]) for item in page.get("Contents", []))
        return found

    def delete_prefix(self, prefix: str) -> None:
        names = self._objects(prefix)
        if self.exists(prefix.rstrip("/")):
            names.append(self._obj(prefix.rstrip("/")))
        for start in range(0, len(names), 1000):  # the API's batch limit
            batch = [{"Key": name} for name in names[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        # Downloaded copies too (cache_dir/<etag>/<key>): deleted data must not linger locally.
        key = check_key(prefix.rstrip("/"))
        for etag_dir in self.cache_dir.iterdir() if self.cache_dir.is_dir() else ():
            target = etag_dir / key
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            elif target.is_file():
                target.unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        skip = len(self.prefix) + 1 if self.prefix else 0
        return sorted(name[skip:] for name in self._objects(prefix))


@lru_cache(maxsize=4)
def _s3_client(endpoint: str | None, region: str, key_id: str | None, secret: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # Path-style addressing works with every S3-compatible server, not only AWS.
    config = Config(
        s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"}
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=config,
    )


def get_storage(settings: Settings) -> Storage:
    """The storage the settings name: S3 for ``s3://bucket/prefix``, else the local folder."""
    url = settings.storage_url
    if not url:
        return LocalStorage(settings.files_dir)
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"FORMCOACH_STORAGE_URL must look like s3://bucket/prefix, not {url!r}")
    client = _s3_client(
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
    )
    cache = settings.storage_cache_dir or settings.data_dir / "s3-cache"
    return S3Storage(client, parsed.netloc, parsed.path, cache)


def check_storage(storage: Storage) -> None:
    """Raise when the storage cannot be written now (the readiness check of /api/ready)."""
    if isinstance(storage, S3Storage):
        storage.client.head_bucket(Bucket=storage.bucket)
        return
    if isinstance(storage, LocalStorage):
        fd, name = tempfile.mkstemp(dir=storage.root, prefix=".tmp-ready-")
        os.close(fd)
        Path(name).unlink()
        return
    storage.list("runs")


def move_into(storage: Storage, key: str, src: Path) -> None:
    """Move a finished temp file into storage without copying (same filesystem), else copy."""
    if not isinstance(storage, LocalStorage):
        storage.put_file(key, src)
        return
    final = storage._path(key)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, final)
    except OSError:
        storage.put_file(key, src)
