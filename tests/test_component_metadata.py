"""Every component folder carries a metadata.yaml in kubeflow/pipelines-components' schema, and its README is
what the generator (slimpipe.kfp_pipeline.component_readme) writes from that file, the component's docstring
and its spec."""
import importlib
import re
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Model, Output

from slimpipe.errors import SlimpipeError
from slimpipe.kfp_pipeline import METADATA, ComponentMetadata, component_readme
from slimpipe.pipelines.build import STAGES, component_readmes, component_specs, write_component_readmes

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ROOT / "components"
# The package whose pin in pyproject.toml each dependency's version restates (as ">=pin").
PROVIDED_BY = {"Pipelines": "kfp", "S3-compatible object store (MinIO client)": "minio"}
OBJECT_STORE = "S3-compatible object store (MinIO client)"

VALID = """\
---
name: toy
stability: alpha
dependencies:
  kubeflow:
    - name: Pipelines
      version: '>=2.17.0'
tags:
  - testing
lastVerified: 2026-01-31T12:00:00Z
links:
  documentation: ../../README.md
"""


def metadata(stage: str) -> ComponentMetadata:
    return ComponentMetadata.read(COMPONENTS / stage / METADATA)


def pins() -> dict[str, str]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(dep.split("==", 1) for dep in dependencies if "==" in dep)


def usage_code(readme: str) -> str:
    return readme.split("## Usage", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.fixture(scope="module")
def readmes() -> dict[Path, str]:
    return component_readmes()


def test_every_component_folder_has_metadata():
    folders = {path.parent.name for path in COMPONENTS.glob("*/component.py")}
    assert folders == set(STAGES)
    assert not [stage for stage in STAGES if not (COMPONENTS / stage / METADATA).is_file()]


@pytest.mark.parametrize("stage", STAGES)
def test_metadata_passes_the_schema_and_was_not_verified_in_the_future(stage):
    meta = metadata(stage)
    assert meta.name == stage
    assert meta.last_verified <= datetime.now(timezone.utc)


@pytest.mark.parametrize("stage", STAGES)
def test_metadata_names_a_component_of_its_folder(stage):
    module = importlib.import_module(f"slimpipe.components.{stage}.component")
    assert hasattr(getattr(module, metadata(stage).name), "component_spec")


@pytest.mark.parametrize("stage", STAGES)
def test_dependency_versions_are_the_pins_in_pyproject(stage):
    pinned = pins()
    for dep in metadata(stage).dependencies:
        assert dep.name in PROVIDED_BY, f"{stage}: {dep.name}: which pyproject pin gives its version?"
        assert dep.version == f">={pinned[PROVIDED_BY[dep.name]]}", f"{stage}: {dep.name} {dep.version}"


def test_the_steps_given_object_store_credentials_declare_the_object_store():
    platform = list(yaml.safe_load_all((ROOT / "pipelines/prune_pipeline.yaml").read_text()))[1]
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    with_secret = {re.sub(r"-\d+$", "", name[len("exec-"):]).replace("-", "_")
                   for name, config in executors.items() if "secretAsEnv" in config}
    declaring = {stage for stage in STAGES if any(d.name == OBJECT_STORE for d in metadata(stage).external_services)}
    assert with_secret and with_secret == declaring


@pytest.mark.parametrize("stage", STAGES)
def test_relative_links_name_existing_files_and_headings(stage):
    for key, link in metadata(stage).links.items():
        if "://" in link:
            continue
        target, _, anchor = link.partition("#")
        path = (COMPONENTS / stage / target).resolve()
        assert path.is_file(), f"{stage}: link {key}: {link}"
        if anchor:
            assert anchor in github_anchors(path.read_text()), f"{stage}: link {key}: no heading #{anchor}"


@pytest.mark.parametrize("stage", STAGES)
def test_committed_readme_is_what_the_generator_writes(stage, readmes):
    path = COMPONENTS / stage / "README.md"
    assert path.read_text() == readmes[path], f"{path} is out of date: run `make compile`"


@pytest.mark.parametrize("stage", ["ingest", "benchmark"])
def test_readme_states_the_metadata_and_every_input_and_output(stage, readmes):
    meta, text = metadata(stage), readmes[COMPONENTS / stage / "README.md"]
    assert f"**Stability**: {meta.stability}" in text
    assert f"**Last verified**: {meta.verified}" in text
    for dep in meta.dependencies:
        assert f"{dep.name}: `{dep.version}`" in text
    for tag in meta.tags:
        assert f"`{tag}`" in text
    module = importlib.import_module(f"slimpipe.components.{stage}.component")
    spec = getattr(module, stage).component_spec
    for name in [*spec.inputs, *spec.outputs]:
        assert f"| `{name}` |" in text
    assert f"from slimpipe.components.{stage}.component import {stage}\n" in usage_code(text)


@pytest.mark.parametrize("stage", STAGES)
def test_readme_usage_example_compiles_to_a_pipeline_running_the_component(stage, readmes, tmp_path):
    namespace: dict = {}
    exec(usage_code(readmes[COMPONENTS / stage / "README.md"]), namespace)
    out = tmp_path / "example.yaml"
    compiler.Compiler().compile(namespace[f"{stage}_example"], str(out))
    spec = yaml.safe_load(out.read_text())
    tasks = spec["root"]["dag"]["tasks"]
    if "exit-handler-1" in tasks:  # an exit task's example wraps a step of the user's in dsl.ExitHandler
        assert tasks[stage.replace("_", "-")]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
        assert set(tasks) == {stage.replace("_", "-"), "exit-handler-1"}
    else:
        assert list(tasks) == [stage.replace("_", "-")]


def test_write_component_readmes_writes_the_readmes_and_nothing_else(tmp_path, readmes):
    written = write_component_readmes(tmp_path)
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(written)
    assert {p.relative_to(tmp_path) for p in written} == {p.relative_to(COMPONENTS) for p in readmes}
    assert all(p.read_text() == readmes[COMPONENTS / p.relative_to(tmp_path)] for p in written)
    assert len(readmes) == len({path.parent for path in component_specs()})


@dsl.component(base_image="python:3.11")
def toy(data: Input[Dataset], model: Output[Model], rate: float = 0.5, note: str = ""):
    """Fit a toy model.

    Args:
        data: the rows to learn from.
        model: the fitted model.
        rate: step size | learning rate.
    """


def toy_metadata(tmp_path: Path, text: str = VALID) -> Path:
    path = tmp_path / "toy" / METADATA
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_docstring_args_describe_the_inputs_and_outputs(tmp_path):
    text = component_readme(ComponentMetadata.read(toy_metadata(tmp_path)), [("component.yaml", toy)])
    assert "| `data` | system.Dataset@0.0.1 | required | the rows to learn from. |" in text
    assert "| `model` | system.Model@0.0.1 | the fitted model. |" in text
    assert "| `rate` | Float | `0.5` | step size \\| learning rate. |" in text
    assert '| `note` | String | `""` |  |' in text
    assert "Fit a toy model." in text and "Args:" not in text


def test_readme_refuses_metadata_naming_no_component_of_the_folder(tmp_path):
    meta = ComponentMetadata.read(toy_metadata(tmp_path))
    with pytest.raises(SlimpipeError, match=r"toy/metadata.yaml: name 'toy': .*toy/component.py has no component"):
        component_readme(meta, [("component_gpu.yaml", toy)])


BAD = [
    ("missing-field", lambda t: t.replace("stability: alpha\n", ""), r"{path}: missing field 'stability'"),
    ("wrong-order", lambda t: t.replace("name: toy\nstability: alpha\n", "stability: alpha\nname: toy\n"),
     r"{path}: fields in the order stability, name, dependencies, lastVerified; expected name, stability"),
    ("unknown-field", lambda t: t + "owners: [me]\n", r"{path}:13: unknown field 'owners'"),
    ("name-not-folder", lambda t: t.replace("name: toy", "name: other"),
     r"{path}:2: name 'other': expected the folder's name 'toy'"),
    ("stability", lambda t: t.replace("stability: alpha", "stability: gamma"),
     r"{path}:3: stability 'gamma': expected one of experimental, alpha, beta, stable"),
    ("no-pipelines", lambda t: t.replace("name: Pipelines", "name: Trainer"),
     r"{path}:4: dependencies.kubeflow: Pipelines .* is required"),
    ("no-kubeflow", lambda t: t.replace("  kubeflow:", "  others:"), r"{path}:4: dependencies: expected kubeflow"),
    ("version-not-semver", lambda t: t.replace(">=2.17.0", ">=2.17"),
     r"{path}:4: dependencies.kubeflow: Pipelines version '>=2.17': expected semver"),
    ("version-missing", lambda t: t.replace("      version: '>=2.17.0'\n", ""),
     r"{path}:4: dependencies.kubeflow: entry .*: expected name and version"),
    ("verified-in-future", lambda t: t.replace("2026-01-31T12:00:00Z", "2999-01-31T12:00:00Z"),
     r"{path}:10: lastVerified 2999-01-31T12:00:00\+00:00 is in the future"),
    ("verified-a-date", lambda t: t.replace("2026-01-31T12:00:00Z", "2026-01-31"),
     r"{path}:10: lastVerified .*: expected an ISO timestamp in UTC"),
    ("verified-no-zone", lambda t: t.replace("2026-01-31T12:00:00Z", "2026-01-31 12:00:00"),
     r"{path}:10: lastVerified .*: expected an ISO timestamp in UTC"),
    ("tags-not-a-list", lambda t: t.replace("tags:\n  - testing", "tags: testing"), r"{path}:8: tags: expected a list"),
    ("links-not-a-mapping", lambda t: t.replace("links:\n  documentation: ../../README.md", "links: [a]"),
     r"{path}:11: links: expected a mapping"),
    ("ci-unknown-key", lambda t: t + "ci:\n  compile: true\n", r"{path}:13: ci: expected only skip_dependency_probe"),
    ("not-a-mapping", lambda t: "- name: toy\n", r"{path}: expected a mapping of fields, found list"),
    ("not-yaml", lambda t: "name: [toy\n", r"{path}: unreadable: "),
]


@pytest.mark.parametrize("case", BAD, ids=[case[0] for case in BAD])
def test_bad_metadata_is_refused_naming_the_file_and_line(case, tmp_path):
    _, edit, message = case
    path = toy_metadata(tmp_path, edit(VALID))
    with pytest.raises(SlimpipeError, match=message.format(path=re.escape(str(path)))):
        ComponentMetadata.read(path)


def test_a_missing_metadata_file_is_refused(tmp_path):
    (tmp_path / "toy").mkdir()
    with pytest.raises(SlimpipeError, match=r"toy/metadata.yaml: missing; every component folder has one"):
        ComponentMetadata.read(tmp_path / "toy" / METADATA)


def test_valid_metadata_is_read_into_its_fields(tmp_path):
    meta = ComponentMetadata.read(toy_metadata(tmp_path))
    assert (meta.name, meta.stability, meta.tags, meta.links) == ("toy", "alpha", ("testing",),
                                                                  {"documentation": "../../README.md"})
    assert [(d.name, d.version) for d in meta.kubeflow] == [("Pipelines", ">=2.17.0")] and not meta.external_services
    assert meta.verified == "2026-01-31T12:00:00Z"
