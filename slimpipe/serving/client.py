"""A small Open Inference Protocol v2 client (JSON over the standard library's http.client) and a `slimpipe serve`
in a child process, for the tests and the serving bench."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from slimpipe.errors import fail
from slimpipe.serving.model import DATATYPES, NUMPY_TYPES

V2_TYPES = {numpy_type: v2_type for v2_type, numpy_type in DATATYPES.values()}


def infer_body(named: dict[str, np.ndarray], request_id: str | None = None) -> bytes:
    """A v2 inference request with every tensor as JSON data (row-major), datatype from its numpy type."""
    inputs = [{"name": name, "shape": list(array.shape), "datatype": V2_TYPES[array.dtype.name],
               "data": array.ravel().tolist()} for name, array in named.items()]
    body = {"inputs": inputs} if request_id is None else {"id": request_id, "inputs": inputs}
    return json.dumps(body).encode()


def output_arrays(response: dict) -> dict[str, np.ndarray]:
    """The outputs of a v2 inference response (JSON data) as arrays, by name."""
    return {out["name"]: np.asarray(out["data"], dtype=NUMPY_TYPES[out["datatype"]]).reshape(out["shape"])
            for out in response["outputs"]}


class _NoDelayConnection(http.client.HTTPConnection):
    """http.client sends a body over 2920 bytes apart from its headers; with Nagle's algorithm on, the last
    segment then waits for the server's delayed ACK (tens of milliseconds on each request)."""

    def connect(self):
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Connection:
    """One keep-alive HTTP connection to a server on this machine (one per client thread)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout_s: float = 60.0):
        self._conn = _NoDelayConnection(host, port, timeout=timeout_s)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        """(status, JSON body) of one request."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self._conn.request(method, path, body=body, headers=headers)
        response = self._conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else {})

    def close(self) -> None:
        self._conn.close()


class ServerProcess:
    """`slimpipe serve` in a child process on 127.0.0.1:`port`, its output in `log`; `start()` returns once
    /v2/health/ready answers, `stop()` sends SIGTERM and returns the exit status."""

    def __init__(self, model: str | Path, name: str, port: int, log: Path, extra: list[str] | tuple = (),
                 env: dict[str, str] | None = None):
        self.model, self.name, self.port, self.log = str(model), name, port, Path(log)
        self.argv = [sys.executable, "-m", "slimpipe", "serve", "--model", self.model, "--name", name,
                     "--port", str(port), *extra]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120.0) -> "ServerProcess":
        from slimpipe.local_s3 import _die_with_parent

        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                         env=dict(os.environ, **(self.env or {})))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise fail(f"slimpipe serve exited at start (status {self.proc.returncode}): {self.log_tail()}")
            try:
                conn = Connection(self.port, timeout_s=2.0)
                status, _ = conn.request("GET", "/v2/health/ready")
                conn.close()
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise fail(f"slimpipe serve was not ready on port {self.port} within {timeout_s:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, timeout_s: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> "ServerProcess":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
