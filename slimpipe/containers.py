"""Running the pipeline's steps in their container images on one machine: kfp.local's DockerRunner against a
Docker engine or podman's Docker API (DOCKER_HOST), made safe to trust.

- A step's container is kept until its exit status is read, then removed: kfp 2.17 removes it as it
  starts and reports a container that died before its logs were read as a success
  (kubeflow/pipelines#13332). A step whose container exits 0 without writing its executor output or one of
  its output artifacts is failed here too, naming what is missing: the runner's status is never trusted
  alone.
- Steps run as the image's non-root user: the run's folders are created writable for it, the dataset is
  brought in through the pipeline root (the only host path a container sees), and the containers share
  the host's network, so an object store on the host's loopback (the embedded S3 server) is reachable.
- Object-store settings and credentials reach the containers as the runner's environment, never in the
  pipeline spec.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

from slimpipe.errors import fail
from slimpipe.progress import log


# Artifact types kfp records in the executor output's metadata, with no file of their own.
METADATA_ONLY = {"system.Metrics", "system.ClassificationMetrics", "system.SlicedClassificationMetrics"}


def client():
    """A Docker API client from the environment (DOCKER_HOST), checked to answer."""
    try:
        import docker
    except ImportError:
        raise fail("the container runner needs the 'docker' package (pip install 'slimpipe[containers]')") from None
    where = os.environ.get("DOCKER_HOST", "the default Docker socket")
    try:
        engine = docker.from_env()
        engine.ping()
    except Exception as exc:  # the SDK raises several types for an engine that is not there
        raise fail(f"no container engine answers at {where} ({exc.__class__.__name__}); start one (docker, or "
                   f"podman's Docker API: export DOCKER_HOST=$(images/docker-api.sh)") from None
    return engine


def require_image(engine, image: str) -> None:
    """The step image must be present: nothing is pulled during a run."""
    tags = {tag for found in engine.images.list() for tag in found.tags}
    if image not in tags and f"docker.io/library/{image}" not in tags:
        raise fail(f"image {image} not found in the container engine; build it with `make images`")


def step_image(params: dict[str, Any]) -> str:
    """The image every step runs in, after refusing what a step's container could not reach: the GPU step's
    image, and local paths other than the dataset (which is brought in through the pipeline root)."""
    from slimpipe.images import CPU_IMAGE
    from slimpipe.storage import is_remote

    if params.get("gpu_benchmark"):
        raise fail("--gpu-benchmark: the container runner runs the CPU image only; benchmark on GPU on Kubeflow")
    for name in ("publish_to", "sensitivity_checkpoint"):
        value = params.get(name) or ""
        if value and not is_remote(value):
            flag = "--" + name.replace("_", "-")
            raise fail(f"{flag} {value}: with --runner container this must be an object-store URI (s3://...): "
                       f"a step's container sees no host folder but the pipeline root")
    return CPU_IMAGE


def runner(environment: dict[str, str]):
    """kfp.local's DockerRunner for these steps: the host's network, the given environment."""
    from kfp import local

    return local.DockerRunner(network_mode="host", environment=environment)


def environment(failure_log: str) -> dict[str, str]:
    """The containers' environment: object-store settings that are set here, and the failure log."""
    from slimpipe.kfp_io import FAILURE_LOG
    from slimpipe.storage import ENV_VARS

    return {name: os.environ[name] for name in ENV_VARS if os.environ.get(name)} | {FAILURE_LOG: failure_log}


@contextlib.contextmanager
def staged_dataset(dataset: str, root: Path) -> Iterator[str]:
    """A local dataset copied under the pipeline root for the length of the run, the one host folder the
    containers see (the ingest step's source); object-store URIs are passed as they are."""
    from slimpipe.storage import is_remote

    if is_remote(dataset):
        yield dataset
        return
    source = Path(dataset)
    if not source.is_dir():
        raise fail(f"{dataset}: dataset folder not found")
    inputs = root / "inputs"
    inputs.mkdir(exist_ok=True)
    dest = inputs / f"{source.resolve().name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    try:
        shutil.copytree(source, dest, symlinks=True)
        yield str(dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        with contextlib.suppress(OSError):
            inputs.rmdir()


def _outputs(command: list[str]) -> dict[str, Any]:
    """The `outputs` of the executor input in a step's command line (empty when it has none)."""
    if "--executor_input" not in command:
        return {}
    return json.loads(command[command.index("--executor_input") + 1]).get("outputs", {})


def missing_outputs(command: list[str]) -> list[str]:
    """What a finished step should have written but did not: its executor output file and each output
    artifact, read from the executor input in its command line."""
    spec = _outputs(command)
    wanted = [("executor output", spec.get("outputFile"))] + [
        (name, a.get("uri")) for name, listed in spec.get("artifacts", {}).items() for a in listed.get("artifacts", [])
        if a.get("type", {}).get("schemaTitle") not in METADATA_ONLY]
    return [name for name, path in wanted if path and not os.path.exists(path)]


def step_name(command: list[str]) -> str:
    """The task's name (its folder in the run), from the executor input in its command line."""
    output_file = _outputs(command).get("outputFile")
    return Path(output_file).parent.name if output_file else "step"


def run_container(client, image: str, command: list[str], volumes: dict[str, Any], **run_args) -> int:
    """kfp's `run_docker_container` with the exit status read before the container is removed, and the
    step's outputs checked (see the module docstring). Returns the status kfp judges the step by."""
    import docker

    container = client.containers.run(image=image, command=command, detach=True, volumes=volumes, **run_args)
    try:
        for line in container.logs(stream=True, follow=True):
            print(line.decode(errors="replace"), end="")
        code = int(container.wait()["StatusCode"])
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)
    if code == 0:
        missing = missing_outputs(command)
        if missing:
            step = step_name(command)
            message = (f"the container exited 0 but wrote no {', '.join(missing)}: the step did not run to its "
                       f"end in {image}")
            print(f"[{step}] error: {message}", flush=True)
            _record(run_args, step, message)
            return 1
    return code


def _record(run_args: dict[str, Any], step: str, message: str) -> None:
    """Append a cause to the failure log the steps share (slimpipe.kfp_io.report_failures)."""
    from slimpipe.kfp_io import FAILURE_LOG

    path = (run_args.get("environment") or {}).get(FAILURE_LOG) or os.environ.get(FAILURE_LOG)
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"step": step.replace("-", "_"), "message": message}) + "\n")


@contextlib.contextmanager
def trusted_exit_status() -> Iterator[None]:
    """kfp.local's Docker task handler with `run_container` in place of its own container run."""
    from kfp.local import docker_task_handler

    original = docker_task_handler.run_docker_container
    docker_task_handler.run_docker_container = run_container
    try:
        yield
    finally:
        docker_task_handler.run_docker_container = original


@contextlib.contextmanager
def writable_for_steps(root: Path) -> Iterator[None]:
    """The pipeline root, and the folders and files the runner creates in it during the run, writable by the
    image's user: the root gets the world-writable, sticky mode of /tmp (a step creates the run's folder in
    it), and the run's files are created with umask 0."""
    mode = root.stat().st_mode & 0o7777
    if mode & 0o1777 != 0o1777:
        root.chmod(mode | 0o1777)
        log("run", f"{root}: made writable for the steps' user (mode {mode | 0o1777:o}, as /tmp)")
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def announce(image: str) -> None:
    log("run", f"every step in {image} as its non-root user, through {os.environ.get('DOCKER_HOST', 'docker')}")
