"""The installed package claims only the name `slimpipe` (the repo's components/ and pipelines/ folders install as
slimpipe.components and slimpipe.pipelines), and the library never imports the layers built on it."""
import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

from slimpipe.cli import main

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
LAYERS = ("slimpipe.components", "slimpipe.pipelines")
# The CLI modules that drive the pipeline layer (inside their run() or the pipeline's parameters).
DRIVERS = {"cli/compile.py", "cli/run.py", "cli/submit.py", "cli/schedule.py", "cli/pipeline_params.py"}


def test_the_package_list_names_every_package_under_slimpipe_and_nothing_else():
    mapped = [f"slimpipe.{name}" for name in find_packages(str(ROOT), include=["components*", "pipelines*"])]
    assert sorted(PYPROJECT["packages"]) == sorted(find_packages(str(ROOT), include=["slimpipe*"]) + mapped)
    assert PYPROJECT["package-dir"] == {"slimpipe": "slimpipe", "slimpipe.components": "components",
                                        "slimpipe.pipelines": "pipelines"}


def imported_names(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_no_library_module_imports_the_components_or_the_pipeline():
    offenders = []
    for path in sorted((ROOT / "slimpipe").rglob("*.py")):
        if str(path.relative_to(ROOT / "slimpipe")) in DRIVERS:
            continue
        for name in imported_names(path):
            top = name.split(".")[0]
            if top in ("components", "pipelines", "bench") or name.startswith(LAYERS):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


SCRATCH_COMPILE = """
import json, sys
from pathlib import Path
import components, pipelines  # the project's own packages
import slimpipe.pipelines.build as build
from slimpipe.cli import main
checkout = build.components_root()
build.in_place_root = lambda: Path(sys.argv[1])  # stands in for the checkout's folder: the golden files stay
code = main(["compile", "--out", sys.argv[2], "--components"])
import components as after
print(json.dumps({"code": code, "mine": after.MINE, "checkout": str(checkout)}))
"""


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compile_in_a_project_with_its_own_components_and_pipelines_writes_nothing_into_them(tmp_path):
    project = tmp_path / "project"
    for package in ("components", "components/train", "pipelines"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text("MINE = True\n")
    before = tree(project)
    compiled, out = tmp_path / "compiled", tmp_path / "p.yaml"
    proc = subprocess.run([sys.executable, "-c", SCRATCH_COMPILE, str(compiled), str(out)], cwd=project,
                          env={**os.environ, "PYTHONPATH": str(project)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["code"] == 0 and result["mine"] is True  # `import components` is still the project's
    assert result["checkout"] == str(ROOT / "components")
    assert tree(project) == before
    assert out.is_file() and (compiled / "train/component.yaml").is_file() and (compiled / "train/README.md").is_file()


def test_compile_refuses_to_write_into_installed_components(tmp_path, monkeypatch, capsys):
    import slimpipe.pipelines.build as build

    installed = tmp_path / "site-packages" / "slimpipe" / "components"
    installed.mkdir(parents=True)
    monkeypatch.setattr(build, "components_root", lambda: installed)
    out = tmp_path / "p.yaml"
    assert main(["compile", "--out", str(out), "--components"]) == 2
    assert f"{installed}: slimpipe.components is an installed package, not a source checkout" in \
        capsys.readouterr().err
    assert not out.exists() and list(tmp_path.rglob("*.yaml")) == []


def test_the_repo_is_a_source_checkout_and_a_folder_without_its_pyproject_is_not(tmp_path):
    from slimpipe.pipelines.build import is_source_checkout

    assert is_source_checkout(ROOT / "components")
    (tmp_path / "components").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    assert not is_source_checkout(tmp_path / "components")


SOURCE_IGNORED = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "work", "runs",
                                       ".pytest_cache", "demo-out", "out")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the source (an in-tree build would pick up a stale build/)."""
    tmp = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, tmp / "src", ignore=SOURCE_IGNORED)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"),
                    str(tmp / "src")], check=True, capture_output=True, timeout=600)
    [built] = (tmp / "dist").glob("slimpipe-*.whl")
    return built


@pytest.mark.slow
def test_the_wheel_holds_slimpipe_alone_with_its_compiled_files(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"slimpipe", "slimpipe-0.1.0.dist-info"}
    for stage in ("train", "benchmark", "record_failure"):
        for file in ("component.py", "component.yaml", "metadata.yaml", "README.md"):
            assert f"slimpipe/components/{stage}/{file}" in names
    assert {"slimpipe/components/benchmark/component_gpu.yaml", "slimpipe/pipelines/prune_pipeline.py",
            "slimpipe/pipelines/prune_pipeline.yaml", "slimpipe/pipelines/build.py"} <= set(names)


@pytest.mark.slow
def test_the_installed_wheel_compiles_but_refuses_to_recompile_its_own_components(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    code = ("import sys, slimpipe.components; from slimpipe.cli import main; print(slimpipe.components.__file__); "
            "sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    installed = tree(site / "slimpipe" / "components")

    def compile_(*args):
        return subprocess.run([sys.executable, "-c", code, "compile", "--out", str(tmp_path / "p.yaml"), *args],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    refused = compile_("--components")
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert refused.stdout.startswith(str(site / "slimpipe" / "components"))
    assert "is an installed package, not a source checkout" in refused.stderr
    done = compile_("--components", str(tmp_path / "compiled"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "p.yaml").is_file() and (tmp_path / "compiled/sensitivity/component.yaml").is_file()
    assert tree(site / "slimpipe" / "components") == installed  # nothing written into the installed package
