"""A small HTTP server on 127.0.0.1 that stands in for the Kubeflow Pipelines API and records requests."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESPONSES = {
    ("POST", "/apis/v2beta1/experiments"): lambda body: {"experiment_id": "exp-1",
                                                         "display_name": body.get("display_name")},
    ("GET", "/apis/v2beta1/experiments"): lambda body: {"experiments": [], "total_size": 0},
    ("POST", "/apis/v2beta1/runs"): lambda body: {"run_id": "run-1", "display_name": body.get("display_name"),
                                                  "experiment_id": body.get("experiment_id")},
    ("POST", "/apis/v2beta1/recurringruns"): lambda body: {"recurring_run_id": "rr-1",
                                                           "display_name": body.get("display_name")},
    ("GET", "/apis/v2beta1/healthz"): lambda body: {"multi_user": False},
}


class KfpApiStub:
    """`with KfpApiStub() as api:` then point kfp.Client at `api.url`; `api.requests` lists what was sent."""

    def __init__(self):
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                path = self.path.split("?")[0]
                stub.requests.append({"method": method, "path": path, "query": self.path[len(path):],
                                      "body": body, "headers": dict(self.headers)})
                answer = RESPONSES.get((method, path), lambda b: {})(body)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "KfpApiStub":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def find(self, method: str, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]
