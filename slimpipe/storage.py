"""Object storage on the minio SDK (MinIO, or any S3-protocol server), and plain local folders, behind
one small interface.

URIs: `s3://bucket/prefix`, `minio://bucket/prefix`, or a local path. Endpoint, credentials, TLS and
region come from the environment only (MINIO_ENDPOINT, MINIO_ACCESS_KEY / AWS_ACCESS_KEY_ID,
MINIO_SECRET_KEY / AWS_SECRET_ACCESS_KEY, MINIO_SECURE, MINIO_REGION); they are never parameters and
never appear in logs, errors or artifacts.
"""
from __future__ import annotations

import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

from slimpipe import atomic
from slimpipe.errors import fail
from slimpipe.progress import Progress

SCHEMES = ("s3://", "minio://")
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
T = TypeVar("T")


def is_remote(uri: str) -> bool:
    return uri.startswith(SCHEMES)


@dataclass(frozen=True)
class Location:
    """A bucket and a key prefix (no leading or trailing slash)."""

    bucket: str
    prefix: str

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p and p.strip("/"))

    def uri(self, *parts: str) -> str:
        return f"s3://{self.bucket}/{self.key(*parts)}"


def parse_uri(uri: str) -> Location:
    """`s3://bucket/a/b` -> Location("bucket", "a/b")."""
    for scheme in SCHEMES:
        if uri.startswith(scheme):
            bucket, _, prefix = uri[len(scheme):].partition("/")
            if not bucket:
                raise fail(f"{uri!r}: no bucket name")
            if not BUCKET_NAME.match(bucket):
                raise fail(f"{uri!r}: {bucket!r} is not a valid bucket name (3-63 lowercase letters, digits, "
                           f"dots and hyphens)")
            return Location(bucket, prefix.strip("/"))
    raise fail(f"{uri!r} is not an object-store URI (s3://bucket/prefix or minio://bucket/prefix)")


# What StoreConfig.from_env reads that a user sets (the pipeline sets SLIMPIPE_DEFAULT_MINIO_ENDPOINT itself);
# slimpipe.containers passes these through to the steps' containers.
ENV_VARS = ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "MINIO_SECURE", "MINIO_REGION", "SLIMPIPE_S3_ATTEMPTS", "SLIMPIPE_S3_BACKOFF_S")


@dataclass(frozen=True)
class StoreConfig:
    """Connection settings from the environment; `repr` never shows the keys."""

    endpoint: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    secure: bool = False
    region: str | None = None
    attempts: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 20.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "StoreConfig":
        env = os.environ if env is None else env
        # SLIMPIPE_DEFAULT_MINIO_ENDPOINT is the cluster default the pipeline sets on its steps; an explicit
        # MINIO_ENDPOINT (a user's, or the local runner's inherited one) wins.
        endpoint = (env.get("MINIO_ENDPOINT") or env.get("SLIMPIPE_DEFAULT_MINIO_ENDPOINT") or "").strip()
        if not endpoint:
            raise fail("no object-store endpoint: set MINIO_ENDPOINT (host:port) and the credentials "
                       "MINIO_ACCESS_KEY / MINIO_SECRET_KEY (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
        access = env.get("MINIO_ACCESS_KEY") or env.get("AWS_ACCESS_KEY_ID") or ""
        secret = env.get("MINIO_SECRET_KEY") or env.get("AWS_SECRET_ACCESS_KEY") or ""
        if not access or not secret:
            raise fail(f"no credentials for the object store at {endpoint}: set MINIO_ACCESS_KEY and "
                       f"MINIO_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
        return cls(endpoint=endpoint.removeprefix("http://").removeprefix("https://"), access_key=access,
                   secret_key=secret, secure=env.get("MINIO_SECURE", "false").lower() in ("1", "true", "yes"),
                   region=env.get("MINIO_REGION") or None,
                   attempts=int(env.get("SLIMPIPE_S3_ATTEMPTS", "4")),
                   backoff_s=float(env.get("SLIMPIPE_S3_BACKOFF_S", "0.5")))


CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                    "ExpiredToken"}
TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout"}


class ObjectStore:
    """One bucket-aware client with bounded retries and errors that say what went wrong, and where."""

    def __init__(self, config: StoreConfig):
        import urllib3
        from minio import Minio

        self.config = config
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=config.timeout_s / 4, read=config.timeout_s),
                                   retries=urllib3.Retry(total=0))  # retries are ours: bounded, logged
        self.client = Minio(endpoint=config.endpoint, access_key=config.access_key,
                            secret_key=config.secret_key, secure=config.secure, region=config.region,
                            http_client=http)

    @classmethod
    def from_env(cls) -> "ObjectStore":
        return cls(StoreConfig.from_env())

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn` with bounded exponential backoff on transient failures; translate the others."""
        from minio.error import S3Error
        from urllib3.exceptions import HTTPError as Urllib3Error

        endpoint = self.config.endpoint
        for attempt in range(1, self.config.attempts + 1):
            try:
                return fn()
            except S3Error as exc:
                if exc.code in CREDENTIAL_CODES:
                    raise fail(f"{what}: the object store at {endpoint} rejected the credentials ({exc.code}); "
                               f"check MINIO_ACCESS_KEY / MINIO_SECRET_KEY") from None
                if exc.code == "NoSuchBucket":
                    raise fail(f"{what}: bucket {exc.bucket_name!r} does not exist at {endpoint}") from None
                if exc.code not in TRANSIENT_CODES or attempt == self.config.attempts:
                    raise fail(f"{what}: object store at {endpoint} answered {exc.code}: {exc.message}") from None
            except (Urllib3Error, ConnectionError, TimeoutError) as exc:
                if attempt == self.config.attempts:
                    raise fail(f"{what}: cannot reach the object store at {endpoint} after "
                               f"{self.config.attempts} attempts ({type(exc).__name__})") from None
            time.sleep(self.config.backoff_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def bucket_exists(self, bucket: str) -> bool:
        return self.call(f"check bucket {bucket}", lambda: self.client.bucket_exists(bucket_name=bucket))

    def require_bucket(self, loc: Location) -> None:
        """Refuse a location whose bucket is missing (rather than creating it on a typo)."""
        if not self.bucket_exists(loc.bucket):
            raise fail(f"{loc.uri()}: bucket {loc.bucket!r} does not exist at {self.config.endpoint}")

    def ensure_bucket(self, bucket: str) -> None:
        if not self.bucket_exists(bucket):
            self.call(f"create bucket {bucket}", lambda: self.client.make_bucket(bucket_name=bucket))

    def list(self, loc: Location) -> list[tuple[str, int]]:
        """(key, size) of every object under the prefix."""
        prefix = loc.key() + "/" if loc.key() else ""

        def listing():
            objects = self.client.list_objects(bucket_name=loc.bucket, prefix=prefix, recursive=True)
            return [(o.object_name, o.size) for o in objects if not o.is_dir]

        return self.call(f"list {loc.uri()}", listing)

    def exists(self, bucket: str, key: str) -> bool:
        from minio.error import S3Error

        def stat() -> bool:
            try:
                self.client.stat_object(bucket_name=bucket, object_name=key)
                return True
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                    return False
                raise

        return self.call(f"stat s3://{bucket}/{key}", stat)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        def get() -> bytes:
            response = self.client.get_object(bucket_name=bucket, object_name=key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return self.call(f"download s3://{bucket}/{key}", get)

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        import io

        self.call(f"upload s3://{bucket}/{key}", lambda: self.client.put_object(
            bucket_name=bucket, object_name=key, data=io.BytesIO(data), length=len(data),
            content_type=content_type))

    def put_file(self, bucket: str, key: str, path: Path) -> None:
        self.call(f"upload s3://{bucket}/{key}", lambda: self.client.fput_object(
            bucket_name=bucket, object_name=key, file_path=str(path)))

    def get_file(self, bucket: str, key: str, path: Path, size: int) -> None:
        """Download to `path` in one request, checking the size the listing announced."""
        def get() -> int:
            response = self.client.get_object(bucket_name=bucket, object_name=key)
            try:
                with open(path, "wb") as f:
                    for chunk in response.stream(1 << 20):
                        f.write(chunk)
            finally:
                response.close()
                response.release_conn()
            return path.stat().st_size

        got = self.call(f"download s3://{bucket}/{key}", get)
        if got != size:
            raise fail(f"s3://{bucket}/{key}: downloaded {got} bytes, the store lists {size}")


def key_path(dest: Path, base: str, key: str, uri: str) -> Path:
    """Where the object `key`, listed under the prefix `base` (empty or ending in `/`) of `uri`, is
    written below `dest`: the rest of the key must be a clean relative path (segments joined by single
    `/`, none of them `.` or `..`, no backslash or NUL), so that nothing lands outside `dest`."""
    rel = key[len(base):] if key.startswith(base) else None
    problem = (
        "it does not lie under the prefix" if rel is None else
        "nothing follows the prefix" if not rel else
        "it continues with '/' after the prefix (an absolute path)" if rel.startswith("/") else
        "it holds a NUL character" if "\0" in rel else
        "it holds a backslash" if "\\" in rel else
        "it has an empty segment ('//' or a trailing '/')" if "" in rel.split("/") else
        "it has a '.' or '..' segment" if {".", ".."} & set(rel.split("/")) else None)
    target = dest / rel if problem is None else None
    if target is not None and dest.resolve() not in target.resolve().parents:  # belt and braces
        problem = "it resolves outside the download folder"
    if problem:
        raise fail(f"{uri}: object key {key!r} cannot be downloaded: {problem}; nothing was written")
    return target


def key_paths(dest: Path, base: str, keys: list[str], uri: str) -> list[Path]:
    """`key_path` for every key, and no key that is a folder of another (`a` and `a/b`)."""
    paths = [key_path(dest, base, key, uri) for key in keys]
    files = {p: key for p, key in zip(paths, keys)}
    for path, key in files.items():
        for parent in path.relative_to(dest).parents:
            if dest / parent in files and parent != Path("."):
                raise fail(f"{uri}: object key {files[dest / parent]!r} is a file and also the folder of "
                           f"{key!r}; nothing was written")
    return paths


def download_prefix(store: ObjectStore, loc: Location, dest: Path, workers: int = 8) -> dict[str, int]:
    """Download every object under `loc` into `dest` (parallel, size-checked); written aside, then moved.
    Every key is checked to map inside `dest` before anything is written."""
    store.require_bucket(loc)
    objects = store.list(loc)
    if not objects:
        raise fail(f"{loc.uri()}: no objects under this prefix at {store.config.endpoint}")
    base = loc.key() + "/" if loc.key() else ""
    rels = [p.relative_to(dest) for p in key_paths(dest, base, [key for key, _ in objects], loc.uri())]
    progress = Progress("download", len(objects), every=5.0)
    with atomic.output_dir(dest) as tmp:
        def fetch(item: tuple[tuple[str, int], Path]) -> int:
            (key, size), rel = item
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(loc.bucket, key, target, size)
            progress.update()
            return size

        with ThreadPoolExecutor(max_workers=workers) as pool:
            total = sum(pool.map(fetch, zip(objects, rels)))
    return {"objects": len(objects), "bytes": total}


def files_under(path: Path) -> list[Path]:
    """`path` itself when it is a file, else every file below it, sorted."""
    return [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())


def upload_tree(store: ObjectStore, src: Path, loc: Location, workers: int = 8) -> list[str]:
    """Upload a file or every file under a folder to `loc`; returns the keys written."""
    files = files_under(src)
    keys = [loc.key(src.name) if src.is_file() else loc.key(p.relative_to(src).as_posix()) for p in files]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda kp: store.put_file(loc.bucket, kp[0], kp[1]), zip(keys, files)))
    return keys


def copy_local(src: Path, dest: Path) -> None:
    """Local counterpart of an upload: copy a file or folder into place atomically."""
    if src.is_dir():
        with atomic.output_dir(dest) as tmp:
            shutil.copytree(src, tmp, dirs_exist_ok=True)
    else:
        atomic.write_bytes(dest, src.read_bytes())

