"""Stage 7: publish a run's results where serving and people can find them.

`<dest>/<run-id>/` holds the pruned model directory (`model/`, whose `inference/` folder holds exactly one
`.pdmodel` and one `.pdiparams`: what KServe's paddle runtime loads), `inferenceservice.yaml` (a KServe
InferenceService serving that folder), both benchmarks, the sensitivities, the charts, the report (with a
Serving section linking the manifest) and `publish.json`, the run's record (creation time, objects, the
quality gate's verdict and its reason, the manifest). `<dest>/latest.json`, the record of the newest run
that passed the gate, is written last, and only when every object is up and the pruned model passes the gate.

- Nothing published is replaced: a run id that already exists at the destination (a folder, or any object
  under `<dest>/<run-id>/`) is refused before anything is written. In a local folder the run folder is
  written aside and renamed into place when complete; in a bucket an interrupted upload leaves its objects
  (without `publish.json`), and that run id stays taken. In a pipeline the run id is the run's name
  followed by its unique job id (`run_id_for`).
- latest.json moves only forward: it names the run's creation time, and a run created before the one it
  names leaves it as it is. In a bucket the pointer is read with its ETag and written on condition
  (`If-Match`, or `If-None-Match: *` for the first), so that of two runs finishing together the older
  cannot move it back; a store that ignores the conditions gets read, compare, write and read back. In a
  local folder the read-compare-rename holds an exclusive lock (flock) on the destination folder.
- A failed run leaves `<dest>/<run-id>/failed.json` (`record_failure`, the pipeline's exit handler): its
  state, the step that failed and why. A rejected run leaves `publish.json` with the gate's reason.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from slimpipe import atomic, defaults, storage
from slimpipe.errors import fail
from slimpipe.progress import log
from slimpipe.benchmark_result import BenchmarkResult, comparison

POINTER = "latest.json"
RECORD = "publish.json"
FAILED = "failed.json"
MANIFEST = "inferenceservice.yaml"
RECORD_FORMAT = "slimpipe.publish/1"
FAILURE_FORMAT = "slimpipe.failure/1"
MAX_DROP_POINTS = defaults.MAX_DROP_POINTS
SERVICE_ACCOUNT = "slimpipe-serving"  # manifests/serving/ creates it, with the S3 secret KServe reads
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
NAME_MAX = 60  # characters of a run's name kept in its run id (a UUID and '-' follow: 97 at most)
POINTER_ATTEMPTS = 8
# Memory for serving: what Python, Paddle Inference and a model server take before the model (Paddle alone
# measures 270 MiB), then twice the parameter file (the parameters, and the copies the analysis passes
# make) and the program's intermediate tensors at batch 1; the limit leaves room for batches of a few.
RUNTIME_MIB = 512
MEMORY_LIMIT_FACTOR = 2
SERVICE_NAME_MAX = 45  # KServe derives longer names (<name>-predictor-...) that must fit 63 characters


def check_run_id(run_id: str) -> str:
    """A run id is one plain folder name: letters, digits, `.`, `_`, `-`, starting with a letter or digit,
    at most 128 characters, no `..`, and not the pointer's name."""
    if not run_id:
        raise fail("run id is empty: expected a name such as 2024-06-01-digits")
    if "/" in run_id or "\\" in run_id:
        raise fail(f"run id {run_id!r}: a run id is one folder name, without '/' or '\\'")
    if ".." in run_id:
        raise fail(f"run id {run_id!r}: '..' is not allowed in a run id")
    if not RUN_ID.fullmatch(run_id) or run_id in (POINTER, RECORD):
        raise fail(f"run id {run_id!r}: expected 1-128 letters, digits, '.', '_' or '-', starting with a letter "
                   f"or digit (and not {POINTER!r})")
    return run_id


def run_id_for(name: str, job_id: str) -> str:
    """A pipeline run's id: its name, readable, made a plain folder name (every run of other characters
    becomes one '-'; at most 60 characters kept), then its job id, unique (the run's UUID on Kubeflow, a
    random number in kfp.local). Two runs with the same name never share a run folder."""
    if not JOB_ID.fullmatch(job_id or ""):
        raise fail(f"job id {job_id!r}: expected the run's unique id (letters, digits and '-'); a placeholder "
                   f"the runner did not fill in?")
    readable = re.sub(r"[^A-Za-z0-9_-]+", "-", name or "").strip("-_")[:NAME_MAX].rstrip("-_")
    return check_run_id(f"{readable}-{job_id}" if readable else job_id)


def parse_created(text: str | None) -> datetime:
    """A run's creation time, ISO-8601 (UTC unless it names its offset), as an aware UTC time. Empty, or a
    placeholder the runner passed unfilled (kfp.local leaves {{$.pipeline_job_create_time_utc}}), is now."""
    if not text or not text.strip() or text.startswith("{{$"):
        return datetime.now(timezone.utc)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"created {text!r}: expected an ISO-8601 time in UTC, such as 2026-06-01T12:00:00Z") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def time_text(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return time_text(datetime.now(timezone.utc))


@dataclass
class RunRecord:
    """publish.json in a run's folder; latest.json is the record of the run it points at."""

    run_id: str
    created: str  # the run's creation time (ISO-8601 UTC): what orders runs for the pointer
    published_at: str
    location: str
    objects: list[str]
    gate: dict[str, Any]
    reason: str
    serving: dict[str, Any] = field(default_factory=dict)
    format: str = RECORD_FORMAT

    @property
    def passed(self) -> bool:
        return bool(self.gate.get("passed"))

    def created_at(self) -> datetime:
        return parse_created(self.created)

    def newer_than(self, other: "RunRecord") -> bool:
        """Created later (the run id breaks a tie, so that two records always compare one way)."""
        return (self.created_at(), self.run_id) > (other.created_at(), other.run_id)

    def to_bytes(self) -> bytes:
        return (json.dumps(asdict(self), indent=2) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> "RunRecord":
        """A record as read at `where`; one written before creation times were recorded counts as created
        when it was published."""
        try:
            obj = json.loads(data)
            if not isinstance(obj, dict) or not isinstance(obj.get("run_id"), str):
                raise ValueError("no run_id")
            obj["created"] = obj.get("created") or obj["published_at"]
            parse_created(obj["created"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise fail(f"{where}: not a slimpipe publish record ({exc}); move it aside to publish here") from None
        known = {f.name for f in fields(cls)}
        defaults = {"location": "", "objects": [], "gate": {}, "reason": "", "published_at": obj["created"]}
        return cls(**(defaults | {k: v for k, v in obj.items() if k in known}))


@dataclass
class FailureRecord:
    """failed.json in a failed run's folder: which step failed, and why."""

    run_id: str
    created: str
    recorded_at: str
    state: str  # the run's final state as Kubeflow gives it: FAILED, CANCELLED, ...
    step: str  # the step that failed
    cause: str  # its one-line cause
    failed_task: str = ""  # the task Kubeflow's final status names (the exit handler's group on a cluster)
    error: str = ""  # Kubeflow's error message, when it gives one
    causes: list[dict[str, str]] = field(default_factory=list)  # every cause the steps recorded, oldest first
    format: str = FAILURE_FORMAT

    def to_bytes(self) -> bytes:
        return (json.dumps(asdict(self), indent=2) + "\n").encode()


def run_files(model: str | Path, base_result: str | Path, pruned_result: str | Path,
              sensitivities: str | Path | None = None, plots: str | Path | None = None,
              report: str | Path | None = None) -> dict[str, Path]:
    """What a run folder holds: its name there -> the local file or folder (optional ones when given)."""
    named = {"model": model, "benchmark_base.json": base_result, "benchmark_pruned.json": pruned_result,
             "sensitivities.json": sensitivities, "visualization": plots, "report.md": report}
    return {name: Path(path) for name, path in named.items() if path is not None}


def judge(base: BenchmarkResult, pruned: BenchmarkResult, max_drop_points: float) -> dict[str, Any]:
    """The quality gate on two benchmark results: the metric may drop by at most `max_drop_points` points.
    The verdict (as publish.json records it): passed, max_drop_points and the comparison's figures."""
    figures = comparison(base, pruned)
    return {"passed": figures.passes(max_drop_points), "max_drop_points": max_drop_points, "figures": figures.to_dict()}


def gate(base_result: Path, pruned_result: Path, max_drop_points: float) -> dict[str, Any]:
    """The quality gate on two benchmark result files."""
    return judge(BenchmarkResult.read(base_result), BenchmarkResult.read(pruned_result), max_drop_points)


def gate_reason(verdict: dict[str, Any]) -> str:
    drop, most = verdict["figures"]["metric_drop_points"], verdict["max_drop_points"]
    if verdict["passed"]:
        return f"passed the quality gate: the metric dropped {drop:.2f} points (at most {most:g})"
    return f"rejected by the quality gate: the metric dropped {drop:.2f} points (at most {most:g})"


# Serving (KServe) --------------------------------------------------------------------------------------------

def serving_files(model_dir: str | Path) -> tuple[Path, Path]:
    """The pruned model's program and parameters, checked as KServe's paddle runtime loads a storageUri
    (kserve python/paddleserver: the one file ending `.pdmodel` and the one ending `.pdiparams` directly in
    the folder, more than one is an error) and as Paddle reads them (slimpipe.pdformat)."""
    from slimpipe import modeldir

    program, params = modeldir.inference_paths(model_dir)
    folder = program.parent
    names = sorted(p.name for p in folder.iterdir() if p.is_file())
    for ext in (".pdmodel", ".pdiparams"):
        found = [name for name in names if name.endswith(ext)]
        if len(found) != 1:
            raise fail(f"{folder}: KServe's paddle runtime needs exactly one {ext} file in the model folder; "
                       f"found {len(found)} ({', '.join(found)})")
    return program, params


def program_figures(program: Path) -> tuple[int, list[str]]:
    """Bytes of a program's intermediate tensors at batch 1 (unknown sizes counted as 1: Paddle Inference
    keeps them all when its memory optimisation is off, its default), and the names of its inputs."""
    import numpy as np

    import slimpipe  # noqa: F401  (Pillow before paddle)
    from paddle.base.proto import framework_pb2

    from slimpipe.pdformat import DTYPE_BYTES, LOD_TENSOR

    desc = framework_pb2.ProgramDesc()
    desc.ParseFromString(program.read_bytes())
    total = 0
    for var in desc.blocks[0].vars:
        tensor = var.type.lod_tensor.tensor
        if var.persistable or var.type.type != LOD_TENSOR:
            continue
        total += int(np.prod([max(d, 1) for d in tensor.dims])) * DTYPE_BYTES.get(tensor.data_type, 4)
    inputs = [op.outputs[0].arguments[0] for op in desc.blocks[0].ops if op.type == "feed"]
    return total, inputs


def serving_resources(threads: int, param_bytes: int, intermediate_bytes: int) -> dict[str, dict[str, str]]:
    """Requests and limits for the predictor. CPU: the benchmark's threads, the setting its latency was
    measured at (KServe's paddle runtime computes on Paddle's default of one). Memory: RUNTIME_MIB, twice the
    parameter file and the intermediate tensors at batch 1, rounded up to 64 MiB; the limit
    MEMORY_LIMIT_FACTOR times that."""
    mib = RUNTIME_MIB + math.ceil((2 * param_bytes + intermediate_bytes) / 2 ** 20)
    request = 64 * math.ceil(mib / 64)
    return {"requests": {"cpu": str(threads), "memory": f"{request}Mi"},
            "limits": {"cpu": str(threads), "memory": f"{MEMORY_LIMIT_FACTOR * request}Mi"}}


def service_name(dest: str) -> str:
    """The InferenceService's name: the destination's last segment as KServe accepts a name
    ([a-z]([-a-z0-9]*[a-z0-9])?, kept to 45 characters); every run published there updates one service."""
    last = str(dest).rstrip("/").rsplit("/", 1)[-1]
    label = re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")[:SERVICE_NAME_MAX].strip("-")
    if not label or not label[0].isalpha():
        label = f"slimpipe-{label}"[:SERVICE_NAME_MAX].strip("-")
    return label


def inference_service(name: str, storage_uri: str, service_account: str, resources: dict[str, Any],
                      run_id: str, created: str) -> dict[str, Any]:
    """A serving.kserve.io/v1beta1 InferenceService serving the Paddle model at `storage_uri`."""
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "annotations": {"slimpipe/run-id": run_id, "slimpipe/created": created}},
            "spec": {"predictor": {"serviceAccountName": service_account,
                                   "model": {"modelFormat": {"name": "paddle"}, "storageUri": storage_uri,
                                             "resources": resources}}}}


def manifest_text(doc: dict[str, Any], sizing: dict[str, Any], local_folder: Path | None,
                  inputs: list[str]) -> str:
    """The manifest as YAML (yaml.safe_dump) after comments saying how to apply it and how it was sized."""
    import yaml

    spec = doc["spec"]["predictor"]
    lines = [f"KServe InferenceService for slimpipe run {doc['metadata']['annotations']['slimpipe/run-id']}.",
             f"Apply it in a namespace holding the service account {spec['serviceAccountName']} and its S3 secret",
             "(manifests/serving/ in the slimpipe repository): kubectl apply -n NAMESPACE -f inferenceservice.yaml",
             f"Resources: CPU = the benchmark's threads ({sizing['threads']}); memory request = {RUNTIME_MIB} MiB "
             f"(Python, Paddle, server)",
             f"+ 2 x the parameter file ({sizing['param_file_bytes'] / 2 ** 20:.1f} MiB) + intermediate tensors at "
             f"batch 1 ({sizing['intermediate_bytes'] / 2 ** 20:.1f} MiB),",
             f"rounded up to 64 MiB; limit = {MEMORY_LIMIT_FACTOR} x the request."]
    if local_folder is not None:
        lines += [f"storageUri is the folder this run was published to on this machine: upload {local_folder}",
                  "to your object store and set storageUri to its s3:// address before applying this."]
    if len(inputs) > 1:
        lines += [f"This model takes {len(inputs)} inputs ({', '.join(inputs)}); KServe's paddle runtime feeds only "
                  f"the first: serve it",
                  "with a predictor that feeds every input (slimpipe serve) rather than the stock runtime."]
    header = "".join(f"# {line}\n" for line in lines)
    return header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


def serving_section(serving: dict[str, Any]) -> str:
    """The report's Serving section, linking the manifest beside it in the run folder."""
    return (f"\n## Serving\n\nKServe manifest: [{MANIFEST}]({MANIFEST}) (published at `{serving['manifest']}`): an "
            f"InferenceService `{serving['name']}` (modelFormat `paddle`) serving `{serving['storage_uri']}` "
            f"with the service account `{serving['service_account']}`, requesting "
            f"{serving['resources']['requests']['cpu']} CPU and {serving['resources']['requests']['memory']} "
            f"of memory.\n")


# Publishing --------------------------------------------------------------------------------------------------

def publish(dest: str, run_id: str, files: dict[str, Path], base_result: Path, pruned_result: Path,
            max_drop_points: float = MAX_DROP_POINTS, created: str | None = None,
            service_account: str = SERVICE_ACCOUNT) -> dict[str, Any]:
    """Upload `files` (name in the run folder -> local file or folder; "model" the pruned model directory)
    under `dest/run_id/` with the KServe manifest and the record, then move the pointer if the gate passes
    and the run (created at `created`, ISO-8601 UTC, default now) is newer than the one it names. Returns
    the record with `published` (the gate passed) and `pointer_moved`. Every check (run id, inputs, model
    files, gate, destination, run id not taken) runs before anything is written."""
    check_run_id(run_id)
    created_text = time_text(parse_created(created))
    if not service_account or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", service_account):
        raise fail(f"service account {service_account!r}: expected a Kubernetes name (lowercase letters, digits, "
                   f"'-' and '.')")
    for name, path in files.items():
        if not Path(path).exists():
            raise fail(f"{path}: nothing to publish as {name}")
    verdict = gate(base_result, pruned_result, max_drop_points)
    program, _ = serving_files(files["model"])
    pruned = BenchmarkResult.read(pruned_result)
    intermediate, inputs = program_figures(program)
    writer = _RemoteWriter(dest) if storage.is_remote(dest) else _LocalWriter(dest)
    if writer.taken(run_id):
        raise fail(f"{writer.where(run_id)}: run id {run_id!r} already exists at the destination; publishing "
                   f"never replaces a run (choose another run id)")
    writer.check(run_id, files)
    writer.current()  # a pointer that is no record is refused before anything is written
    serving_rel = ("model", program.parent.relative_to(Path(files["model"])).as_posix())
    resources = serving_resources(int(pruned.threads or 1), int(pruned.param_file_bytes), intermediate)
    serving = {"manifest": writer.where(run_id, MANIFEST), "name": service_name(dest),
               "storage_uri": writer.serving_uri(run_id, *serving_rel), "service_account": service_account,
               "resources": resources}
    doc = inference_service(serving["name"], serving["storage_uri"], service_account, resources, run_id,
                            created_text)
    sizing = {"threads": resources["requests"]["cpu"], "param_file_bytes": int(pruned.param_file_bytes),
              "intermediate_bytes": intermediate}
    manifest = manifest_text(doc, sizing, writer.local_folder(run_id, *serving_rel), inputs)
    with writer.run_folder(run_id):
        keys = []
        for name, path in files.items():
            if name == "report.md":
                text = Path(path).read_bytes() + serving_section(serving).encode()
                keys += writer.put_bytes(text, run_id, name)
            else:
                keys += writer.put(Path(path), run_id, name)
        keys += writer.put_bytes(manifest.encode(), run_id, MANIFEST)
        record = RunRecord(run_id=run_id, created=created_text, published_at=_now(), location=writer.where(run_id),
                           objects=keys, gate=verdict, reason=gate_reason(verdict), serving=serving)
        writer.put_record(record.to_bytes(), run_id)
    result = asdict(record) | {"published": record.passed, "pointer_moved": False}
    if not record.passed:
        log("publish", f"REJECTED: {record.reason}; {writer.where(POINTER)} left as it was")
        return result
    moved, current = writer.point(record)
    if moved:
        log("publish", f"{len(keys)} objects under {writer.where(run_id)}; pointer {writer.where(POINTER)} moved")
    else:
        log("publish", f"{len(keys)} objects under {writer.where(run_id)}; pointer {writer.where(POINTER)} left at "
                       f"run {current.run_id} (created {current.created}), newer than this run (created "
                       f"{record.created})")
    return result | {"pointer_moved": moved}


def record_failure(dest: str, run_id: str, state: str, failed_task: str = "", error: str = "",
                   causes: list[dict[str, str]] | None = None, created: str | None = None) -> FailureRecord | None:
    """Write `<dest>/<run_id>/failed.json` for a run whose final state is not SUCCEEDED: the step that
    failed and its cause are the first cause the steps recorded (kfp_io.report_failures: the local runners
    share that log with every step), else what Kubeflow's final status says. A failed.json already there is
    kept. Returns the record (None for a run that succeeded)."""
    check_run_id(run_id)
    if state == "SUCCEEDED":
        return None
    causes = [dict(c) for c in causes or []]
    first = causes[0] if causes else {}
    record = FailureRecord(run_id=run_id, created=time_text(parse_created(created)), recorded_at=_now(),
                           state=state or "FAILED", step=first.get("step") or failed_task or "unknown",
                           cause=first.get("message") or error or "no cause recorded; see the run's logs",
                           failed_task=failed_task or "", error=error or "", causes=causes)
    writer = _RemoteWriter(dest) if storage.is_remote(dest) else _LocalWriter(dest)
    where = writer.where(run_id, FAILED)
    if writer.put_new(record.to_bytes(), run_id, FAILED):
        log("record_failure", f"{where}: run {state}: step {record.step}: {record.cause}")
    else:
        log("record_failure", f"{where}: already recorded; left as it was")
    return record


class _RemoteWriter:
    def __init__(self, dest: str):
        self.loc = storage.parse_uri(dest)
        self.store = storage.ObjectStore.from_env()
        self.store.require_bucket(self.loc)

    def taken(self, run_id: str) -> bool:
        folder = storage.Location(self.loc.bucket, self.loc.key(run_id))
        return bool(self.store.list(folder)) or self.store.exists(folder.bucket, folder.key())

    def check(self, run_id: str, files: dict[str, Path]) -> None:
        """Nothing to check beyond the bucket, which the constructor required."""

    @contextlib.contextmanager
    def run_folder(self, run_id: str) -> Iterator[None]:
        yield

    def put(self, src: Path, run_id: str, name: str) -> list[str]:
        loc = storage.Location(self.loc.bucket, self.loc.key(run_id, name))
        if src.is_file():
            self.store.put_file(loc.bucket, loc.key(), src)
            return [loc.key()]
        return storage.upload_tree(self.store, src, loc)

    def put_bytes(self, data: bytes, run_id: str, name: str) -> list[str]:
        key = self.loc.key(run_id, name)
        self.store.put_bytes(self.loc.bucket, key, data, _content_type(name))
        return [key]

    def put_record(self, data: bytes, run_id: str) -> None:
        """publish.json, written only where none is (another publisher of this run id would have one)."""
        if not self.put_new(data, run_id, RECORD):
            raise fail(f"{self.where(run_id, RECORD)}: run id {run_id!r} was published by someone else meanwhile")

    def put_new(self, data: bytes, run_id: str, name: str) -> bool:
        """Write `<run_id>/<name>` unless it exists (If-None-Match: *); False when it does."""
        key = self.loc.key(run_id, name)
        if self.store.exists(self.loc.bucket, key):  # for a store that ignores the condition
            return False
        return self.put_if(key, data, None)

    def point(self, record: RunRecord) -> tuple[bool, RunRecord]:
        """Move latest.json to `record` unless it names a newer run: read it with its ETag, compare, write on
        condition that it is unchanged, and read again when it changed meanwhile. The write is read back, so
        that on a store that ignores the conditions an older run's write landing just after ours is undone.
        Returns (moved, the record latest.json names)."""
        key = self.loc.key(POINTER)
        for _ in range(POINTER_ATTEMPTS):
            data, etag = self.get(key)
            current = self._record(data)
            if current is not None and not record.newer_than(current):
                return False, current
            if not self.put_if(key, record.to_bytes(), etag):
                continue  # changed since it was read: compare again
            now = self._record(self.get(key)[0])
            if now is not None and now.run_id != record.run_id and record.newer_than(now):
                continue  # an older run's write landed after ours (a store without conditional writes)
            return True, record
        raise fail(f"{self.where(POINTER)}: changed under every one of {POINTER_ATTEMPTS} attempts to move it; "
                   f"publish again")

    def current(self) -> RunRecord | None:
        """The record latest.json holds (None when there is none)."""
        return self._record(self.get(self.loc.key(POINTER))[0])

    def _record(self, data: bytes | None) -> RunRecord | None:
        return None if data is None else RunRecord.from_bytes(data, self.where(POINTER))

    def get(self, key: str) -> tuple[bytes | None, str | None]:
        """An object's bytes and ETag, from one request; (None, None) when there is none."""
        from minio.error import S3Error

        def get() -> tuple[bytes | None, str | None]:
            try:
                response = self.store.client.get_object(bucket_name=self.loc.bucket, object_name=key)
            except S3Error as exc:
                if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                    return None, None
                raise
            try:
                return response.read(), (response.headers.get("ETag") or "").strip('"') or None
            finally:
                response.close()
                response.release_conn()

        return self.store.call(f"download s3://{self.loc.bucket}/{key}", get)

    def put_if(self, key: str, data: bytes, etag: str | None) -> bool:
        """Write `key` only if it is as it was read: If-Match its ETag, or If-None-Match: * when there was
        none. False when the store answers that it changed (412; 409 for a concurrent conditional write; 404
        for an object deleted since). minio's put_object takes no request headers, hence its PUT primitive."""
        from minio.error import S3Error

        condition = {"If-Match": f'"{etag}"'} if etag else {"If-None-Match": "*"}
        headers = {"Content-Type": _content_type(key), **condition}

        def put() -> bool:
            try:
                self.store.client._put_object(self.loc.bucket, key, data, headers)
                return True
            except S3Error as exc:
                if exc.code in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
                    return False
                raise

        return self.store.call(f"upload s3://{self.loc.bucket}/{key}", put)

    def serving_uri(self, run_id: str, *parts: str) -> str:
        return self.loc.uri(run_id, *parts)

    def local_folder(self, run_id: str, *parts: str) -> Path | None:
        return None

    def where(self, *parts: str) -> str:
        return self.loc.uri(*parts)


class _LocalWriter:
    def __init__(self, dest: str):
        if not str(dest).strip():
            raise fail("publish: the destination is empty")
        self.root = Path(dest)
        if self.root.exists() and not self.root.is_dir():
            raise fail(f"{dest}: is a file; publish writes run folders and {POINTER} inside a folder")
        self.folder: Path | None = None

    def taken(self, run_id: str) -> bool:
        return os.path.lexists(self.root / run_id)

    def check(self, run_id: str, files: dict[str, Path]) -> None:
        """The output rule: the run folder is no input, lies in none, and its place is writable."""
        atomic.claim(self.root / run_id, "publish", {name: path for name, path in files.items()})

    @contextlib.contextmanager
    def run_folder(self, run_id: str) -> Iterator[None]:
        """Write the run folder aside; it takes its place only when complete, and never replaces one."""
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic.output_dir(self.root / run_id) as tmp:
            self.folder = tmp
            yield
            if self.taken(run_id):
                raise fail(f"{self.where(run_id)}: run id {run_id!r} was published by someone else meanwhile; "
                           f"nothing of this run was kept")
        self.folder = None

    def put(self, src: Path, run_id: str, name: str) -> list[str]:
        storage.copy_local(src, self.folder / name)
        return [f"{run_id}/{p.relative_to(self.folder).as_posix()}" for p in storage.files_under(self.folder / name)]

    def put_bytes(self, data: bytes, run_id: str, name: str) -> list[str]:
        atomic.write_bytes(self.folder / name, data)
        return [f"{run_id}/{name}"]

    def put_record(self, data: bytes, run_id: str) -> None:
        atomic.write_bytes(self.folder / RECORD, data)  # the folder is new: nothing to replace

    def put_new(self, data: bytes, run_id: str, name: str) -> bool:
        """Write `<run_id>/<name>` unless it exists: written aside, then linked into place (a link never
        replaces); False when it exists."""
        folder = self.root / run_id
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o666 & ~_umask())
            try:
                os.link(tmp, folder / name)
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(tmp)

    def point(self, record: RunRecord) -> tuple[bool, RunRecord]:
        """Move latest.json to `record` unless it names a newer run: read, compare and rename while holding
        the destination's lock, so that another publisher's read-compare-rename waits."""
        with self.locked():
            current = self.current()
            if current is not None and not record.newer_than(current):
                return False, current
            atomic.write_bytes(self.root / POINTER, record.to_bytes())
            return True, record

    def current(self) -> RunRecord | None:
        path = self.root / POINTER
        return RunRecord.from_bytes(path.read_bytes(), str(path)) if path.exists() else None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """An exclusive flock on the destination folder itself (no lock file is left); where the file system
        refuses a lock on a folder (NFS emulates flock with record locks, which need a file open for
        writing), on the hidden file `.latest.json.lock` instead."""
        import fcntl

        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                os.close(fd)
                fd = os.open(self.root / f".{POINTER}.lock", os.O_RDWR | os.O_CREAT, 0o666)
                fcntl.lockf(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def serving_uri(self, run_id: str, *parts: str) -> str:
        return self.root.joinpath(run_id, *parts).resolve().as_uri()

    def local_folder(self, run_id: str, *parts: str) -> Path | None:
        return self.root.joinpath(run_id, *parts).resolve()

    def where(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))


def _content_type(name: str) -> str:
    return {".json": "application/json", ".yaml": "application/yaml", ".md": "text/markdown"}.get(
        Path(name).suffix, "application/octet-stream")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
