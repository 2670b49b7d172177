"""Compile a pipeline and run it locally through Kubeflow Pipelines' own local runner; read and render the
component folders' metadata and READMEs. The pipeline and the components are the layer built on this library
(slimpipe.pipelines.build hands them in); nothing here imports them."""
from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from slimpipe.errors import fail
from slimpipe.progress import log


def compile_spec(pipeline, out: str | Path) -> Path:
    """Write the compiled spec (YAML) of a pipeline or component to `out`. The pipeline itself comes from the
    layer built on this module (slimpipe.pipelines), which this module never imports."""
    from kfp import compiler

    from slimpipe import atomic

    tmp = Path(out).with_suffix(".compiling.yaml")
    compiler.Compiler().compile(pipeline, str(tmp))
    atomic.write_bytes(out, tmp.read_bytes())
    tmp.unlink()
    return Path(out)


METADATA = "metadata.yaml"
# The metadata schema of kubeflow/pipelines-components (its scripts/validate_metadata): the required fields
# in this order, the optional ones anywhere, stability on its scale, versions as semver with an optional
# comparison. Kubeflow Pipelines is a required dependency.
METADATA_REQUIRED = ("name", "stability", "dependencies", "lastVerified")
METADATA_OPTIONAL = ("tags", "ci", "links")
STABILITY = ("experimental", "alpha", "beta", "stable")
DEPENDENCY_KINDS = ("kubeflow", "external_services")
_SEMVER = re.compile(r"(>=|<=|==)?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str  # ">=2.17.0": semver, optionally after >=, <= or ==


@dataclass(frozen=True)
class ComponentMetadata:
    """A component folder's metadata.yaml, as kubeflow/pipelines-components writes them; `read` checks it as
    that project's validator does, and also that `name` is the folder's and `lastVerified` is not ahead."""

    path: Path
    name: str
    stability: str
    kubeflow: tuple[Dependency, ...]
    external_services: tuple[Dependency, ...]
    last_verified: datetime
    tags: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)
    ci: dict[str, bool] = field(default_factory=dict)

    @property
    def dependencies(self) -> tuple[Dependency, ...]:
        return self.kubeflow + self.external_services

    @property
    def verified(self) -> str:
        """`lastVerified` as the ISO timestamp it is written as (UTC, `Z`)."""
        return self.last_verified.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @classmethod
    def read(cls, path: str | Path) -> "ComponentMetadata":
        import yaml

        path = Path(path)
        try:
            text = path.read_text()
            data, node = yaml.safe_load(text), yaml.compose(text)
        except FileNotFoundError:
            raise fail(f"{path}: missing; every component folder has one (name, stability, dependencies, "
                       f"lastVerified)") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise fail(f"{path}: unreadable: {exc}") from None
        if not isinstance(data, dict):
            raise fail(f"{path}: expected a mapping of fields, found {type(data).__name__}")
        lines = {key.value: key.start_mark.line + 1 for key, _ in node.value}

        def at(key: str) -> str:
            return f"{path}:{lines[key]}" if key in lines else str(path)

        known = METADATA_REQUIRED + METADATA_OPTIONAL
        for key in data:
            if key not in known:
                raise fail(f"{at(key)}: unknown field {key!r}; expected {', '.join(known)}")
        for key in METADATA_REQUIRED:
            if key not in data:
                raise fail(f"{path}: missing field {key!r}")
        order = [key for key in data if key in METADATA_REQUIRED]
        if order != list(METADATA_REQUIRED):
            raise fail(f"{path}: fields in the order {', '.join(order)}; expected {', '.join(METADATA_REQUIRED)}")
        name, stability = data["name"], data["stability"]
        if name != path.parent.name:
            raise fail(f"{at('name')}: name {name!r}: expected the folder's name {path.parent.name!r}")
        if stability not in STABILITY:
            raise fail(f"{at('stability')}: stability {stability!r}: expected one of {', '.join(STABILITY)}")
        kubeflow, external = cls._dependencies(data["dependencies"], at("dependencies"))
        verified = data["lastVerified"]
        if not isinstance(verified, datetime) or verified.tzinfo is None:
            raise fail(f"{at('lastVerified')}: lastVerified {verified!r}: expected an ISO timestamp in UTC, "
                       f"e.g. 2026-01-31T12:00:00Z")
        if verified > datetime.now(timezone.utc):
            raise fail(f"{at('lastVerified')}: lastVerified {verified.isoformat()} is in the future")
        tags, links, ci = data.get("tags", []), data.get("links", {}), data.get("ci", {})
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise fail(f"{at('tags')}: tags: expected a list of words")
        if not isinstance(links, dict) or not all(isinstance(v, str) for v in links.values()):
            raise fail(f"{at('links')}: links: expected a mapping of names to addresses")
        if not isinstance(ci, dict) or set(ci) - {"skip_dependency_probe"} or \
                not all(isinstance(v, bool) for v in ci.values()):
            raise fail(f"{at('ci')}: ci: expected only skip_dependency_probe: true|false")
        return cls(path, name, stability, kubeflow, external, verified, tuple(tags), links, ci)

    @staticmethod
    def _dependencies(value: Any, where: str) -> tuple[tuple[Dependency, ...], tuple[Dependency, ...]]:
        if not isinstance(value, dict) or "kubeflow" not in value or set(value) - set(DEPENDENCY_KINDS):
            raise fail(f"{where}: dependencies: expected kubeflow (and optionally external_services), "
                       f"each a list of name and version")
        kinds = []
        for kind in DEPENDENCY_KINDS:
            entries = value.get(kind) or []
            if not isinstance(entries, list):
                raise fail(f"{where}: dependencies.{kind}: expected a list of name and version")
            deps = []
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or \
                        not isinstance(entry.get("version"), str):
                    raise fail(f"{where}: dependencies.{kind}: entry {entry!r}: expected name and version, "
                               f"both strings")
                if not _SEMVER.fullmatch(entry["version"]):
                    raise fail(f"{where}: dependencies.{kind}: {entry['name']} version {entry['version']!r}: "
                               f"expected semver, optionally after >=, <= or == (e.g. '>=2.17.0')")
                deps.append(Dependency(entry["name"], entry["version"]))
            kinds.append(tuple(deps))
        if not any(dep.name == "Pipelines" for dep in kinds[0]):
            raise fail(f"{where}: dependencies.kubeflow: Pipelines (Kubeflow Pipelines, with its version) is "
                       f"required")
        return kinds[0], kinds[1]


def _cell(text: Any) -> str:
    """`text` on one line, fit for a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _documented(comp) -> dict[str, str]:
    """Descriptions from the component function's Google-style docstring (`Args:`, and `Returns:` as
    `Output`): kfp copies those of inputs into the spec, but not those of output artifacts."""
    import inspect

    import docstring_parser

    parsed = docstring_parser.parse(inspect.getdoc(comp.python_func) or "")
    docs = {param.arg_name: param.description or "" for param in parsed.params}
    if parsed.returns and parsed.returns.description:
        docs.setdefault("Output", parsed.returns.description)
    return docs


def _io_rows(spec_io: dict | None, docs: dict[str, str], defaults: bool) -> list[str]:
    """Table rows: name, type, (default,) description (the spec's, else the docstring's)."""
    rows = []
    for name, io in (spec_io or {}).items():
        kind = f"list of {io.type}" if io.is_artifact_list else io.type
        cells = [f"`{name}`", kind]
        if defaults:
            cells.append("required" if not io.optional else '`""`' if io.default == "" else f"`{io.default}`")
        rows.append("| " + " | ".join(cells + [_cell(io.description or docs.get(name, ""))]) + " |")
    return rows or ["| - |" + " |" * (3 if defaults else 2)]


_PARAMETER_TYPES = {"String": "str", "Integer": "int", "Float": "float", "Boolean": "bool", "List": "list",
                    "Dict": "dict"}


EXIT_STATUS = "PipelineTaskFinalStatus"  # the input Kubeflow fills in for an exit task (dsl.ExitHandler)


def _annotation(io) -> str:
    """The Python annotation of an input in an example pipeline: `str`, `Input[Model]`, `Input[List[Model]]`."""
    if io.type in _PARAMETER_TYPES:
        return _PARAMETER_TYPES[io.type]
    artifact = io.type.split("@")[0].split(".")[-1]  # system.Model@0.0.1 -> Model
    return f"Input[List[{artifact}]]" if io.is_artifact_list else f"Input[{artifact}]"


def _wrapped(head: str, items: list[str], tail: str, indent: str) -> list[str]:
    """`head(items)tail` on one line when it fits in 110 characters, else one item per line."""
    line = f"{indent}{head}({', '.join(items)}){tail}"
    if len(line) <= 110:
        return [line]
    return [f"{indent}{head}(", *[f"{indent}    {item}," for item in items], f"{indent}){tail}"]


def _usage(name: str, spec) -> list[str]:
    """A pipeline that imports slimpipe.components.<name>.component's `name` and calls it with its required
    inputs, taken as the pipeline's own (the tests compile it)."""
    import textwrap

    required = {key: io for key, io in (spec.inputs or {}).items() if not io.optional}
    annotations = {key: _annotation(io) for key, io in required.items()}
    used = " ".join(annotations.values())
    names = sorted({"Input", *re.findall(r"(\w+)\]", used)} - {"List"}) if "Input[" in used else []
    lines = ["from typing import List", ""] if "List[" in used else []
    lines += ["from kfp import dsl", *([f"from kfp.dsl import {', '.join(names)}"] if names else []), "",
              f"from slimpipe.components.{name}.component import {name}", "", "",
              f'@dsl.pipeline(name="{name.replace("_", "-")}-example")',
              *_wrapped(f"def {name}_example", [f"{k}: {a}" for k, a in annotations.items()], ":", ""),
              *_wrapped(f"task = {name}", [f"{k}={k}" for k in required], "", "    ")]
    if any(io.type == EXIT_STATUS for io in (spec.inputs or {}).values()):  # an exit task: it wraps the steps
        at = lines.index(f"from slimpipe.components.{name}.component import {name}") + 1
        lines[at:at] = ["", "", "@dsl.container_component", "def your_step():",
                        "    # stands for the steps whose failure the exit task records",
                        '    return dsl.ContainerSpec(image="alpine", command=["true"])']
        lines += ["    with dsl.ExitHandler(task):", "        your_step()"]
    outputs = list(spec.outputs or {})
    if outputs:
        used_as = "task.output" if outputs == ["Output"] else ", ".join(f'task.outputs["{o}"]' for o in outputs)
        lines += textwrap.wrap(f"outputs: {used_as}", 104, initial_indent="    # ", subsequent_indent="    #   ",
                               break_long_words=False, break_on_hyphens=False)
    return lines


def _metadata_lines(meta: ComponentMetadata) -> list[str]:
    lines = [f"- **Name**: `{meta.name}`", f"- **Stability**: {meta.stability}", "- **Dependencies**:"]
    for title, deps in (("Kubeflow", meta.kubeflow), ("External services", meta.external_services)):
        if deps:
            lines += [f"  - {title}:", *[f"    - {dep.name}: `{dep.version}`" for dep in deps]]
    lines += [f"- **Tags**: {', '.join(f'`{tag}`' for tag in meta.tags) or 'none'}",
              f"- **Last verified**: {meta.verified}"]
    return lines


def component_readme(meta: ComponentMetadata, comps: list) -> str:
    """A component folder's README in the shape kubeflow/pipelines-components generates (stability,
    overview, inputs and outputs with their descriptions, usage in a pipeline, metadata, links), from its
    metadata.yaml and the components' own specs and docstrings (so it cannot drift). `comps`: (compiled file
    name, component) pairs as component_specs names them: `component.yaml` for the component named like the
    folder, `component_<variant>.yaml` for `<folder>_<variant>`."""
    named = {f"{meta.name}{yaml_name[len('component'):-len('.yaml')]}": (yaml_name, comp) for yaml_name, comp in comps}
    if meta.name not in named:
        raise fail(f"{meta.path}: name {meta.name!r}: {meta.path.parent / 'component.py'} has no component of "
                   f"that name (it has {', '.join(named) or 'none'})")
    first_yaml, main = named[meta.name]
    overview = (main.component_spec.description or "").strip()
    lines = [f"# Component: {meta.name}", ""]
    if meta.stability != "stable":
        lines += [f"> **Stability: {meta.stability}**: not yet stable; its inputs and outputs may change.", ""]
    lines += ["## Overview", "", overview, ""]
    for function, (yaml_name, comp) in named.items():
        spec, docs = comp.component_spec, _documented(comp)
        description = (spec.description or "").strip()
        lines += [f"## `{yaml_name}` (`{function}`, {spec.implementation.container.image})", "",
                  *([description, ""] if description != overview else []),
                  "Inputs:", "", "| name | type | default | description |", "| --- | --- | --- | --- |",
                  *_io_rows(spec.inputs, docs, defaults=True), "", "Outputs:", "", "| name | type | description |",
                  "| --- | --- | --- |", *_io_rows(spec.outputs, docs, defaults=False), ""]
    lines += ["## Usage", "", "In a pipeline (the example takes the component's inputs as its own; yours passes "
              "earlier tasks' outputs):", "", "```python", *_usage(meta.name, main.component_spec), "```",
              "", "Or from the compiled file, without this package:", "", "```python",
              "from kfp import components", "",
              f'{meta.name} = components.load_component_from_file("components/{meta.name}/{first_yaml}")', "```",
              "", "## Metadata", "", *_metadata_lines(meta), ""]
    if meta.links:
        lines += ["## Links", "", *[f"- **{key.replace('_', ' ').capitalize()}**: [{url}]({url})"
                                    for key, url in meta.links.items()], ""]
    lines += [f"Generated by `make compile` from `component.py` and `{METADATA}`.", ""]
    return "\n".join(lines)


def without_retries(spec):
    """A copy of a pipeline spec with no task retry policy: on one machine a step has no pod to lose, so a
    failure is the step's own and a retry would only repeat it (transient storage faults are retried
    inside the step)."""
    from kfp.pipeline_spec import pipeline_spec_pb2

    copy = pipeline_spec_pb2.PipelineSpec()
    copy.CopyFrom(spec)
    dags = [copy.root.dag] + [c.dag for c in copy.components.values() if c.HasField("dag")]
    for dag in dags:
        for task in dag.tasks.values():
            task.ClearField("retry_policy")
    return copy


def with_create_time(spec, created: str):
    """A copy of a pipeline spec whose task inputs given as the run's creation time placeholder
    (dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER) are `created`: kfp.local 2.17 fills the job's name and id
    but fails a task given this one (its placeholder parser takes it for an input's)."""
    from kfp import dsl
    from kfp.pipeline_spec import pipeline_spec_pb2

    copy = pipeline_spec_pb2.PipelineSpec()
    copy.CopyFrom(spec)
    dags = [copy.root.dag] + [c.dag for c in copy.components.values() if c.HasField("dag")]
    for dag in dags:
        for task in dag.tasks.values():
            for value in task.inputs.parameters.values():
                constant = value.runtime_value.constant
                if constant.WhichOneof("kind") == "string_value" and \
                        constant.string_value == dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER:
                    constant.string_value = created
    return copy


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FAILED_TASK = re.compile(r"finished with status FAILURE\. Inner task failed: '([^']+)'")


def failed_run(exc: RuntimeError, causes: list[dict[str, str]]) -> Exception:
    """The local runner's failure as one SlimpipeError naming the failed step and the cause the step
    recorded (kfp_io.report_failures); `exc` itself when it is not a step failure."""
    from slimpipe.errors import fail

    found = _FAILED_TASK.search(_ANSI.sub("", str(exc)))
    if not found:
        return exc
    task = found.group(1)
    mine = [c for c in causes if task.replace("-", "_").startswith(c["step"])]
    cause = (mine or causes or [{"message": "no cause recorded; see the step's log above"}])[-1]["message"]
    return fail(f"step {task} failed: {cause}")


RUNNERS = ("subprocess", "container")


def run_local(pipeline, params: dict[str, Any], root: str | Path, runner: str = "subprocess") -> Path:
    """Run the whole `pipeline` with kfp.local, without retries: each step in a subprocess of this
    environment, or with `runner="container"` in its image (slimpipe.containers); returns the run's output
    folder under `root`. A failed step ends it with a SlimpipeError naming the step and its cause."""
    import tempfile
    import warnings

    from kfp import local
    from kfp.local import pipeline_orchestrator

    from slimpipe.kfp_io import FAILURE_LOG, failures

    if runner not in RUNNERS:
        raise ValueError(f"runner {runner!r}: expected one of {RUNNERS}")
    # Locally the components run in this environment; kfp warns that the image names no Python.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
    root = Path(root).resolve()
    if runner == "container":
        from slimpipe import containers

        image = containers.step_image(params)
        containers.require_image(containers.client(), image)
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as context:
        # The failure log lies in the pipeline root, the one host folder a step's container sees.
        fd, log_path = tempfile.mkstemp(prefix=".slimpipe-failures.", suffix=".jsonl", dir=root)
        os.close(fd)
        os.chmod(log_path, 0o666)
        context.callback(os.unlink, log_path)
        if runner == "container":
            params = params | {"dataset": context.enter_context(containers.staged_dataset(params["dataset"], root))}
            local.init(runner=containers.runner(containers.environment(log_path)), pipeline_root=str(root))
            context.enter_context(containers.trusted_exit_status())
            context.enter_context(containers.writable_for_steps(root))
            containers.announce(image)
        else:
            local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
        spec = without_retries(pipeline.component_spec.implementation.graph)
        spec = with_create_time(spec, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        context.enter_context(_environ(FAILURE_LOG, log_path))  # the steps, child processes, inherit it
        before = set(root.iterdir())
        start = time.perf_counter()
        try:
            pipeline_orchestrator.run_local_pipeline(pipeline_spec=spec, arguments=params)
        except RuntimeError as exc:
            log("run", f"pipeline failed after {time.perf_counter() - start:.0f}s; what the steps wrote is under "
                       f"{_newest(root, before)}")
            raise failed_run(exc, failures(log_path)) from None
    log("run", f"pipeline finished in {time.perf_counter() - start:.0f}s")
    return _newest(root, before)


@contextlib.contextmanager
def _environ(name: str, value: str):
    """`name=value` in this process's environment for the block, as it was afterwards."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def _newest(root: Path, before: set[Path]) -> Path:
    """The run folder the local runner made under `root` (the newest of those not there `before`)."""
    runs = sorted(set(root.iterdir()) - before, key=lambda p: p.stat().st_mtime)
    return runs[-1] if runs else root


def find_outputs(run_dir: Path, task: str, output: str) -> list[Path]:
    """Every artifact `output` of tasks named `task` (or `task-2`, ...) in a local run folder, including
    those inside loop iterations (`for-loop-1-iteration-0/task/...`)."""
    matches = sorted(run_dir.glob(f"**/{task}*/{output}"))
    if not matches:
        raise FileNotFoundError(f"no output {output!r} of task {task!r} under {run_dir}")
    return matches


def collect(run_dir: Path, dest: Path) -> dict[str, Path]:
    """Copy a local run's main artifacts into a readable layout under `dest`; returns what went where."""
    import shutil

    from slimpipe import atomic
    from slimpipe.benchmark_result import BenchmarkResult

    places = {"model": ("train", "model"), "pruned": ("prune-train", "pruned_model"),
              "sensitivities.json": ("merge-sensitivities", "sensitivities"), "visualization": ("visualize", "plots"),
              "report.md": ("report", "report"), "report.html": ("report", "chart")}
    found = {name: find_outputs(run_dir, *where)[-1] for name, where in places.items()}
    for result in find_outputs(run_dir, "benchmark", "result"):
        data = BenchmarkResult.read(result, measured=False)
        found[f"benchmark_{'pruned' if data.pruned else 'base'}_{data.device}.json"] = result
    if list(run_dir.glob("sweep-select*/sweep")):  # a sweep: the chosen model, its benchmark, the table
        found.update({"pruned": find_outputs(run_dir, "sweep-select", "pruned_model")[-1],
                      "benchmark_pruned_cpu.json": find_outputs(run_dir, "sweep-select", "result")[-1],
                      "sweep.md": find_outputs(run_dir, "sweep-select", "sweep")[-1],
                      "sweep.html": find_outputs(run_dir, "sweep-select", "chart")[-1]})
    with atomic.output_dir(dest, "run") as tmp:
        for name, src in found.items():
            (shutil.copytree if src.is_dir() else shutil.copyfile)(src, tmp / name)
    return {name: dest / name for name in found}
