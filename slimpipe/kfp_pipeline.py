"""Compile the pipeline and run it locally through Kubeflow Pipelines' own local runner."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from slimpipe.progress import log


def pipeline_func():
    from pipelines.prune_pipeline import prune_pipeline

    return prune_pipeline


def compile_pipeline(out: str | Path) -> Path:
    """Write the compiled pipeline spec (YAML) to `out`."""
    from kfp import compiler

    from slimpipe import atomic

    tmp = Path(out).with_suffix(".compiling.yaml")
    compiler.Compiler().compile(pipeline_func(), str(tmp))
    atomic.write_bytes(out, tmp.read_bytes())
    tmp.unlink()
    return Path(out)


STAGES = ("ingest", "train", "sensitivity", "visualize", "prune_train", "benchmark", "report")


def component_specs() -> dict[Path, object]:
    """Each component of components/<stage>/component.py and the YAML file it compiles to: the one named
    like the stage to component.yaml, any variant (`benchmark_gpu`) to component_<variant>.yaml."""
    import importlib

    import components

    root = Path(components.__file__).parent
    specs = {}
    for stage in STAGES:
        module = importlib.import_module(f"components.{stage}.component")
        for name in sorted(vars(module)):
            comp = getattr(module, name)
            if name.startswith(stage) and hasattr(comp, "component_spec"):
                suffix = name[len(stage):]
                specs[root / stage / f"component{suffix}.yaml"] = comp
    return specs


def compile_components(dest_root: Path | None = None) -> list[Path]:
    """Compile every component; to their committed places, or mirrored under `dest_root`."""
    from kfp import compiler

    import components

    written = []
    base = Path(components.__file__).parent
    for path, comp in component_specs().items():
        target = path if dest_root is None else Path(dest_root) / path.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        compiler.Compiler().compile(comp, str(target))
        written.append(target)
    return written


def run_local(params: dict[str, Any], root: str | Path) -> Path:
    """Run the whole pipeline with kfp.local's SubprocessRunner in this environment; returns the run's
    output folder under `root`."""
    import warnings

    from kfp import local

    # Locally the components run in this environment; kfp warns that the image names no Python.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    before = set(root.iterdir())
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    start = time.perf_counter()
    pipeline_func()(**params)
    runs = sorted(set(root.iterdir()) - before, key=lambda p: p.stat().st_mtime)
    log("run", f"pipeline finished in {time.perf_counter() - start:.0f}s")
    return runs[-1] if runs else root


def find_outputs(run_dir: Path, task: str, output: str) -> list[Path]:
    """Every artifact `output` of tasks named `task` (or `task-2`, ...) in a local run folder."""
    matches = sorted(run_dir.glob(f"{task}*/{output}"))
    if not matches:
        raise FileNotFoundError(f"no output {output!r} of task {task!r} under {run_dir}")
    return matches


def collect(run_dir: Path, dest: Path) -> dict[str, Path]:
    """Copy a local run's main artifacts into a readable layout under `dest`; returns what went where."""
    import json
    import shutil

    from slimpipe import atomic

    places = {"model": ("train", "model"), "pruned": ("prune-train", "pruned_model"),
              "sensitivities.json": ("sensitivity", "sensitivities"), "visualization": ("visualize", "plots"),
              "report.md": ("report", "report")}
    found = {name: find_outputs(run_dir, *where)[-1] for name, where in places.items()}
    for result in find_outputs(run_dir, "benchmark", "result"):
        data = json.loads(result.read_text())
        kind = "pruned" if data["pruned"] else "base"
        found[f"benchmark_{kind}_{data['device']}.json"] = result
    with atomic.output_dir(dest) as tmp:
        for name, src in found.items():
            (shutil.copytree if src.is_dir() else shutil.copyfile)(src, tmp / name)
    return {name: dest / name for name in found}
