"""The pipeline and the components as files: compiled specs (YAML) and the component folders' READMEs.

The layer built on slimpipe's library: slimpipe.kfp_pipeline compiles, runs and renders whatever it is handed
and imports neither slimpipe.components nor slimpipe.pipelines; this module names what it is handed. The CLI's
compile, run, submit and schedule import it, inside their run().
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from slimpipe.errors import fail
from slimpipe.kfp_pipeline import METADATA, ComponentMetadata, compile_spec, component_readme

STAGES = ("ingest", "train", "target_plan", "shard_plan", "sensitivity", "merge_sensitivities", "latency_table",
          "visualize", "prune_train", "benchmark", "sweep_plan", "sweep_select", "report", "publish", "record_failure")


def pipeline_func():
    """The pipeline function (imported on first use: it imports every component, and they kfp)."""
    from slimpipe.pipelines.prune_pipeline import prune_pipeline

    return prune_pipeline


def compile_pipeline(out: str | Path) -> Path:
    """Write the compiled pipeline spec (YAML) to `out`."""
    return compile_spec(pipeline_func(), out)


def components_root() -> Path:
    """The folder slimpipe.components is imported from: the repo's components/ in a source checkout (the
    editable install maps it there), site-packages/slimpipe/components in an installed wheel."""
    import slimpipe.components

    return Path(slimpipe.components.__file__).parent


def is_source_checkout(root: Path) -> bool:
    """Whether `root` (a components folder) lies in a checkout of this project: beside the pyproject.toml of
    the distribution named slimpipe. Only there are the compiled files kept beside the code."""
    pyproject = root.parent / "pyproject.toml"
    try:
        return tomllib.loads(pyproject.read_text()).get("project", {}).get("name") == "slimpipe"
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def in_place_root() -> Path:
    """The components folder of the source checkout, where `slimpipe compile --components` writes by default;
    refused for an installed package (whose files belong to pip)."""
    root = components_root()
    if not is_source_checkout(root):
        raise fail(f"{root}: slimpipe.components is an installed package, not a source checkout; name a folder "
                   f"to write the compiled components to (slimpipe compile --components DIR)")
    return root


def component_specs() -> dict[Path, object]:
    """Each component of slimpipe.components.<stage>.component and the YAML file it compiles to: the one named
    like the stage to component.yaml, any variant (`benchmark_gpu`) to component_<variant>.yaml."""
    import importlib

    root = components_root()
    specs = {}
    for stage in STAGES:
        module = importlib.import_module(f"slimpipe.components.{stage}.component")
        for name in sorted(vars(module)):
            comp = getattr(module, name)
            if name.startswith(stage) and hasattr(comp, "component_spec"):
                suffix = name[len(stage):]
                specs[root / stage / f"component{suffix}.yaml"] = comp
    return specs


def _target(path: Path, dest_root: Path | None) -> Path:
    """Where a file of the components folder goes: in place (source checkout only), or mirrored under
    `dest_root`."""
    base = components_root()
    return in_place_root() / path.relative_to(base) if dest_root is None else Path(dest_root) / path.relative_to(base)


def compile_components(dest_root: Path | None = None) -> list[Path]:
    """Compile every component (and write its folder's README); to their committed places in a source checkout,
    or mirrored under `dest_root`."""
    written = []
    for path, comp in component_specs().items():
        target = _target(path, dest_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        written.append(compile_spec(comp, target))
    write_component_readmes(dest_root)
    return written


def component_readmes() -> dict[Path, str]:
    """Each component folder's README.md (path -> text) as generated now from its metadata.yaml and its
    components' docstrings and specs."""
    by_folder: dict[Path, list] = {}
    for path, comp in component_specs().items():
        by_folder.setdefault(path.parent, []).append((path.name, comp))
    return {folder / "README.md": component_readme(ComponentMetadata.read(folder / METADATA), comps)
            for folder, comps in by_folder.items()}


def write_component_readmes(dest_root: Path | None = None) -> list[Path]:
    """Write every component folder's README (and nothing else); in place in a source checkout, or mirrored
    under `dest_root`."""
    from slimpipe import atomic

    return [atomic.write_text(_target(path, dest_root), text) for path, text in component_readmes().items()]
