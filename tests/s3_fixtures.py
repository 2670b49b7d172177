"""S3-protocol servers on 127.0.0.1 for the storage tests, started and stopped by fixtures."""
from __future__ import annotations

import pytest

from slimpipe.local_s3 import LOCAL_KEYS, embedded_s3, free_port  # noqa: F401  (re-exported)

FAST_RETRIES = {"SLIMPIPE_S3_ATTEMPTS": "2", "SLIMPIPE_S3_BACKOFF_S": "0.01"}


@pytest.fixture
def s3(monkeypatch):
    """A server in a child process with the MINIO_* variables pointing at it; fast bounded retries."""
    for key, value in FAST_RETRIES.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MINIO_ENDPOINT", raising=False)
    with embedded_s3() as endpoint:
        yield endpoint


class RestartableServer:
    """moto's threaded server; its buckets live in this process, so a restart on the same port keeps them."""

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self._server = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture
def restartable_s3(monkeypatch):
    """An in-process server that a test can stop in the middle of its work and start again."""
    server = RestartableServer()
    server.start()
    monkeypatch.setenv("MINIO_ENDPOINT", server.endpoint)
    monkeypatch.setenv("MINIO_SECURE", "false")
    for key, value in {**LOCAL_KEYS, **FAST_RETRIES}.items():
        monkeypatch.setenv(key, value)
    yield server
    server.stop()


@pytest.fixture
def authenticating_s3(monkeypatch):
    """A server that checks credentials: the first calls (unauthenticated) create an IAM user and its key;
    every later request must be signed with that key."""
    import boto3

    monkeypatch.delenv("MINIO_ENDPOINT", raising=False)
    with embedded_s3(extra_env={"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as endpoint:
        iam = boto3.client("iam", endpoint_url=f"http://{endpoint}", region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="x")
        iam.create_user(UserName="slimpipe")
        iam.put_user_policy(UserName="slimpipe", PolicyName="all", PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'))
        key = iam.create_access_key(UserName="slimpipe")["AccessKey"]
        yield {"endpoint": endpoint, "access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}



class FlakyProxy:
    """An HTTP proxy on 127.0.0.1 in front of an S3-protocol server that answers the first `failures`
    requests with 503 SlowDown, then forwards every request: transient faults on a real connection."""

    ERROR = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message><RequestId>1</RequestId></Error>")

    def __init__(self, upstream: str, failures: int):
        import http.client
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.failures, self.seen, lock = failures, 0, threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    proxy.seen += 1
                    fail_now = proxy.seen <= proxy.failures
                if fail_now:
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(proxy.ERROR)))
                    self.end_headers()
                    self.wfile.write(proxy.ERROR)
                    return
                conn = http.client.HTTPConnection(upstream, timeout=30)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                answer = conn.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
