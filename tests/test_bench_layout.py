"""bench/: one module per section under bench/jobs with declared dependencies, and the driver that runs them.

No real section runs here (they take minutes and want a quiet machine): the driver is exercised on fake sections.
"""
from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from bench import run as driver
from bench.common import ROOT
from slimpipe.errors import SlimpipeError


def fake(name: str, depends: tuple[str, ...] = (), outputs: tuple[str, ...] = (), ran: list | None = None):
    """A section that records that it ran and leaves its outputs under the work folder."""

    def run(work: Path) -> list[str]:
        if ran is not None:
            ran.append(name)
        for path in outputs:
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(name)
        return [f"## Section {name}", "", f"body of {name}", ""]

    return driver.Section(name, depends, outputs, run)


def chain(*sections: driver.Section) -> dict[str, driver.Section]:
    return dict(driver.check({s.name: s for s in sections}))


def test_every_section_module_declares_name_depends_and_run():
    import bench.jobs

    modules = [m.name for m in pkgutil.iter_modules(bench.jobs.__path__)]
    assert sorted(modules) == sorted(driver.ORDER)
    for name in modules:
        module = importlib.import_module(f"bench.jobs.{name}")
        assert module.NAME == name
        assert isinstance(module.DEPENDS, tuple)
        assert callable(module.run)


def test_real_sections_list_each_dependency_before_its_dependent_with_outputs():
    sections = driver.load()
    assert list(sections) == list(driver.ORDER)
    for name in ("fold", "serving", "sensitivity", "shards", "latency_classification"):
        assert sections[name].depends == ("classification",)
    assert "demo-classification/results/model" in sections["classification"].outputs


def test_missing_dependency_outputs_run_the_dependency_first(tmp_path):
    sections = chain(fake("a", outputs=("a/out.txt",)), fake("b", depends=("a",)))
    assert driver.plan(sections, ["b"], tmp_path) == ["a", "b"]


def test_present_dependency_outputs_are_reused(tmp_path):
    sections = chain(fake("a", outputs=("a/out.txt",)), fake("b", depends=("a",)))
    (tmp_path / "a").mkdir()
    (tmp_path / "a/out.txt").write_text("done")
    assert driver.plan(sections, ["b"], tmp_path) == ["b"]


def test_dependencies_of_dependencies_run_in_order(tmp_path):
    sections = chain(fake("a", outputs=("a.txt",)), fake("b", ("a",), ("b.txt",)), fake("c", ("b",)))
    assert driver.plan(sections, ["c"], tmp_path) == ["a", "b", "c"]


def test_without_running_dependencies_the_error_names_the_missing_section_and_file(tmp_path):
    sections = chain(fake("a", outputs=("a/out.txt",)), fake("b", depends=("a",)))
    with pytest.raises(SlimpipeError, match=r"section b needs the outputs of section a, missing: .*a/out\.txt"):
        driver.plan(sections, ["b"], tmp_path, run_missing=False)


def test_dependency_listed_after_its_dependent_is_refused():
    with pytest.raises(SlimpipeError, match="dependency a must come before it"):
        chain(fake("b", depends=("a",)), fake("a", outputs=("a.txt",)))


def test_dependency_on_an_unknown_section_is_refused():
    with pytest.raises(SlimpipeError, match="DEPENDS names 'nope'"):
        chain(fake("b", depends=("nope",)))


def test_dependency_that_declares_no_outputs_is_refused():
    with pytest.raises(SlimpipeError, match="section a: b depends on it, but it declares no OUTPUTS"):
        chain(fake("a"), fake("b", depends=("a",)))


def test_module_without_run_is_refused_naming_what_is_missing():
    module = ModuleType("fakejob")
    module.NAME, module.DEPENDS = "fakejob", ()
    with pytest.raises(SlimpipeError, match="missing run"):
        driver.Section.of(module)


def test_load_refuses_a_name_other_than_the_module(tmp_path, monkeypatch):
    (tmp_path / "fakejobs").mkdir()
    (tmp_path / "fakejobs/__init__.py").write_text("")
    (tmp_path / "fakejobs/alpha.py").write_text("NAME = 'beta'\nDEPENDS = ()\ndef run(work):\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SlimpipeError, match="NAME is 'beta', not the module's name 'alpha'"):
        driver.load(["alpha"], package="fakejobs")


def test_bench_runs_the_missing_dependency_and_keeps_other_sections(tmp_path):
    work, folder = tmp_path / "work", tmp_path / "sections"
    work.mkdir()
    folder.mkdir()
    (folder / "c.md").write_text("## Section c\n\nmeasured earlier\n")
    ran: list[str] = []
    sections = chain(fake("a", outputs=("a/out.txt",), ran=ran), fake("b", ("a",), ran=ran), fake("c", ran=ran))
    text = driver.bench(sections, ["b"], work, folder, tmp_path / "results.md")
    assert ran == ["a", "b"]
    assert (tmp_path / "results.md").read_text() == text
    assert text.startswith(driver.HEADER)
    assert text.index("## Section a") < text.index("## Section b") < text.index("measured earlier")
    lines = (folder / "b.md").read_text().splitlines()
    assert lines[0] == "## Section b" and lines[2].startswith("_Measured ") and lines[4] == "body of b"


def test_paddleslim_rule_gives_slimpipe_ratios_on_the_same_table():
    from bench.common import ratio_shift, rules_at
    from bench.jobs.sensitivity import paddleslim_ratios

    table = {"conv1": {0.1: 0.01, 0.2: 0.04, 0.3: 0.08}, "conv2": {0.1: 0.2, 0.2: 0.3}, "conv3": {0.1: 0.0, 0.2: 0.01}}
    theirs = paddleslim_ratios(table, 0.05)
    assert theirs["conv1"] == pytest.approx(0.225)
    assert ratio_shift(rules_at(table, 0.05), theirs) == 0.0


def test_help_lists_the_sections():
    done = subprocess.run([sys.executable, "-m", "bench.run", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--only" in done.stdout and "latency_classification" in done.stdout


def test_unknown_section_is_refused_by_the_command_line():
    done = subprocess.run([sys.executable, "-m", "bench.run", "--only", "nope"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "invalid choice: 'nope'" in done.stderr
