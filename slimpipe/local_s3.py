"""An embedded S3-protocol server on 127.0.0.1 (moto's), standing in for MinIO on a machine without one.
It runs as a child process: served from this process it would compete with the clients for the GIL."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import Iterator

from slimpipe.errors import fail
from slimpipe.progress import log

LOCAL_KEYS = {"MINIO_ACCESS_KEY": "slimpipe-local", "MINIO_SECRET_KEY": "slimpipe-local-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the process that started it dies, so none is left behind."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def wait_for_port(port: int, proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise fail(f"the embedded S3-protocol server exited at start (status {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise fail(f"the embedded S3-protocol server did not listen on 127.0.0.1:{port} within {timeout_s:.0f}s")


@contextlib.contextmanager
def embedded_s3(extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Start the server, point the MINIO_* variables at it for the block (child processes inherit them),
    then stop it and restore the environment. Yields the endpoint (host:port)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=dict(os.environ, **(extra_env or {})), preexec_fn=_die_with_parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"127.0.0.1:{port}"
    env = {"MINIO_ENDPOINT": endpoint, "MINIO_SECURE": "false", **LOCAL_KEYS}
    saved = {k: os.environ.get(k) for k in env}
    try:
        wait_for_port(port, proc)
        os.environ.update(env)
        log("s3", f"embedded S3-protocol server listening on {endpoint}")
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log("s3", f"embedded S3-protocol server on {endpoint} stopped")


@contextlib.contextmanager
def object_store() -> Iterator[str]:
    """The configured store (MINIO_ENDPOINT set: a real MinIO), else an embedded one; yields the endpoint."""
    if os.environ.get("MINIO_ENDPOINT"):
        log("s3", f"using the object store at {os.environ['MINIO_ENDPOINT']} (from MINIO_ENDPOINT)")
        yield os.environ["MINIO_ENDPOINT"]
    else:
        with embedded_s3() as endpoint:
            yield endpoint
