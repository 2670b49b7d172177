"""The kserve side of `slimpipe serve`: a kserve.Model answering v2 requests from a ServedModel, run by
kserve's ModelServer (REST only: /v2/health/ready, /v2/models/NAME, /v2/models/NAME/ready,
/v2/models/NAME/infer, and kserve's other routes). Import it after `slimpipe.serving.load_kserve()`.
"""
from __future__ import annotations

import asyncio
import socket
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kserve
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from kserve.utils.numpy_codec import from_np_dtype
from kserve.utils.utils import generate_uuid

from slimpipe.errors import fail
from slimpipe.inference import PredictorSettings
from slimpipe.progress import log
from slimpipe.serving import DEFAULT_HOST, DEFAULT_PORT, check_name
from slimpipe.serving.model import BadRequest, ServedModel, fetched


class PaddleV2Model(kserve.Model):
    """One served model. Requests are decoded and checked on the event loop; inference runs on a thread
    pool as large as the predictor pool, so the server keeps answering health and metadata requests while
    the model runs, and no predictor is ever run by two threads at once."""

    def __init__(self, name: str, served: ServedModel):
        super().__init__(name)
        self.served = served
        self._executor = ThreadPoolExecutor(max_workers=served.pool.size, thread_name_prefix="slimpipe-infer")
        self.ready = True

    def load(self) -> bool:
        return self.ready  # ServedModel.open has loaded it

    def get_input_types(self) -> list[dict]:
        return [spec.metadata() for spec in self.served.signature.inputs]

    def get_output_types(self) -> list[dict]:
        return [spec.metadata() for spec in self.served.signature.outputs]

    async def predict(self, payload, headers=None) -> InferResponse:
        if not isinstance(payload, InferRequest):
            raise InvalidInput(f"slimpipe serve answers the Open Inference Protocol v2 only: "
                               f"POST /v2/models/{self.name}/infer")
        given = {}
        for tensor in payload.inputs:
            if tensor.name in given:
                raise InvalidInput(f"input {tensor.name!r} is given twice")
            given[tensor.name] = (tensor.datatype, list(tensor.shape), tensor.as_numpy)
        try:
            arrays = self.served.signature.arrays(given)
            outputs = await asyncio.get_running_loop().run_in_executor(self._executor, self.served.infer, arrays)
        except BadRequest as exc:
            raise InvalidInput(str(exc)) from None
        return InferResponse(
            response_id=payload.id or generate_uuid(), model_name=self.name,
            infer_outputs=[InferOutput(spec.name, list(array.shape), from_np_dtype(array.dtype), data=array)
                           for spec, array in outputs],
            use_binary_outputs=payload.use_binary_outputs, requested_outputs=payload.request_outputs)

    def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        super().stop()


class _ModelServer(kserve.ModelServer):
    """kserve's ModelServer listening on `host` (kserve's REST server binds every interface), answering a
    body that is not a v2 inference request with 400 and a message, as the protocol asks (FastAPI: 422)."""

    def __init__(self, host: str, **kwargs):
        from fastapi.exceptions import RequestValidationError

        super().__init__(**kwargs)
        self.host = host
        kserve.model_server.app.add_exception_handler(RequestValidationError, _malformed_request)

    def setup_event_loop(self):
        # Called by start() once the REST server is configured and before it listens.
        if self._rest_server is not None:
            self._rest_server.config.host = self.host
        super().setup_event_loop()


async def _malformed_request(request, exc):
    from fastapi.responses import JSONResponse

    problems = "; ".join(f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', '')}"
                         for error in exc.errors()[:3])
    return JSONResponse(status_code=400, content={"error": f"malformed request: {problems}"[:1000]})


def check_port(host: str, port: int) -> None:
    """Fail now, naming the address, when nothing can listen there (taken, not this machine's)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            sock.bind((host, port))
    except OSError as exc:
        raise fail(f"{host}:{port}: cannot listen there ({exc.strerror or exc})") from None


def serve(model: str | Path, name: str, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, threads: int = 1,
          mkldnn: bool = True, parallel: int = 1, download_dir: str | Path | None = None) -> None:
    """Serve `model` (a folder, a slimpipe model directory or an s3:// URI of either) as `name` until the
    process is stopped (SIGINT or SIGTERM)."""
    check_name(name)
    check_port(host, port)
    # kserve 0.21 answers with FastAPI's ORJSONResponse, which FastAPI now deprecates: not the user's concern.
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
    settings = PredictorSettings(mkldnn=mkldnn, threads=threads)
    with fetched(str(model), download_dir) as folder:
        served = ServedModel.open(folder, settings, parallel)
        signature = served.signature
        log("serve", f"{served.program}: inputs {[s.metadata() for s in signature.inputs]}, outputs "
                     f"{[s.metadata() for s in signature.outputs]}; CPU, MKLDNN {'on' if mkldnn else 'off'}, "
                     f"{threads} thread(s) per predictor, {parallel} predictor(s)")
        log("serve", f"model {name!r} on http://{host}:{port}/v2/models/{name} (infer: POST .../infer)")
        server = _ModelServer(host, http_port=port, enable_grpc=False, workers=1)
        server.start([PaddleV2Model(name, served)])
    log("serve", "stopped")
