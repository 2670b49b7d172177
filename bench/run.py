"""`make bench`: measure the targets and write bench/results.md, every figure with its command.

Each section is a module in bench/jobs/ that declares its NAME, the sections it DEPENDS on, the OUTPUTS it
leaves under bench/work for them, and run(work). The sections asked for run in the order results.md shows them,
after any prerequisite whose outputs are missing; each is written to bench/sections/<name>.md as soon as it is
measured, and results.md is assembled from those files, so `--only NAME` refreshes one section and keeps the
others (each stamped with its own date).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, Mapping

# The sections in the order bench/results.md shows them; each is the module bench/jobs/<name>.py.
ORDER = ("classification", "segmentation", "fast_scnn", "detection", "detection_longer", "detection_breakdown",
         "sensitivity", "shards",
         "gpu", "containers", "latency_classification", "latency_segmentation", "latency_detection",
         "latency_detection_backbone", "fold", "serving")
PACKAGE = "bench.jobs"
HEADER = ("# Benchmark results\n\nWritten by `make bench` (`python -m bench.run`); every figure names the "
          "command that produced it.\n\n")


@dataclass(frozen=True)
class Section:
    """One bench section as its module declares it."""

    name: str
    depends: tuple[str, ...]
    outputs: tuple[str, ...]  # paths under the work folder that the sections depending on this one read
    run: Callable[[Path], list[str]]

    @classmethod
    def of(cls, module: ModuleType) -> Section:
        """The section a bench/jobs module declares (NAME, DEPENDS, run; OUTPUTS when others depend on it)."""
        from slimpipe.errors import fail

        where = getattr(module, "__file__", None) or module.__name__
        lacking = [attr for attr in ("NAME", "DEPENDS", "run") if not hasattr(module, attr)]
        if lacking:
            raise fail(f"{where}: a bench section declares NAME, DEPENDS and run(work); "
                       f"missing {', '.join(lacking)}")
        if not callable(module.run):
            raise fail(f"{where}: run is not a function")
        return cls(module.NAME, tuple(module.DEPENDS), tuple(getattr(module, "OUTPUTS", ())), module.run)

    def missing(self, work: Path) -> list[Path]:
        """This section's outputs that are not (or no longer) under `work`."""
        return [work / p for p in self.outputs if not (work / p).exists()]


def check(sections: Mapping[str, Section]) -> Mapping[str, Section]:
    """Every dependency names a section listed before its dependent (so the order runs prerequisites first and
    holds no cycle) that declares the outputs the dependent reads."""
    from slimpipe.errors import fail

    names = list(sections)
    for i, (name, section) in enumerate(sections.items()):
        for dep in section.depends:
            if dep not in sections:
                raise fail(f"bench section {name}: DEPENDS names {dep!r}, which is no section ({', '.join(names)})")
            if names.index(dep) >= i:
                raise fail(f"bench section {name}: its dependency {dep} must come before it in the order")
            if not sections[dep].outputs:
                raise fail(f"bench section {dep}: {name} depends on it, but it declares no OUTPUTS")
    return sections


def load(order: Iterable[str] = ORDER, package: str = PACKAGE) -> dict[str, Section]:
    """The sections, in `order`, from their modules `package.<name>`, checked."""
    from slimpipe.errors import fail

    sections = {}
    for name in order:
        module = importlib.import_module(f"{package}.{name}")
        section = Section.of(module)
        if section.name != name:
            raise fail(f"{module.__file__}: NAME is {section.name!r}, not the module's name {name!r}")
        sections[name] = section
    return dict(check(sections))


def plan(sections: Mapping[str, Section], wanted: Iterable[str], work: Path, run_missing: bool = True) -> list[str]:
    """The sections to run, in the sections' order: `wanted`, and before them every prerequisite (and its own
    prerequisites) whose outputs are missing under `work`, or, without `run_missing`, an error naming each
    missing prerequisite and the files it lacks."""
    from slimpipe.errors import fail

    chosen = list(wanted)
    unknown = [name for name in chosen if name not in sections]
    if unknown:
        raise fail(f"unknown bench section {', '.join(unknown)}; sections: {', '.join(sections)}")
    todo, lacking = list(chosen), {}
    while todo:
        name = todo.pop()
        for dep in sections[name].depends:
            if dep in chosen or dep in lacking:
                continue
            gone = sections[dep].missing(work)
            if not gone:
                continue
            if run_missing:
                chosen.append(dep)
                todo.append(dep)
            else:
                lacking[dep] = (name, gone)
    if lacking:
        raise fail("; ".join(f"section {name} needs the outputs of section {dep}, missing: "
                             f"{', '.join(str(p) for p in gone)} (run `python -m bench.run --only {dep}` first, "
                             f"or leave out --no-deps)" for dep, (name, gone) in lacking.items()))
    return [name for name in sections if name in chosen]


def write_section(section: Section, work: Path, folder: Path, host: str) -> Path:
    """Measure one section and write folder/<name>.md, its date and host stamped under its heading."""
    from slimpipe import atomic

    lines = section.run(work)
    stamp = f"_Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {host}._"
    return atomic.write_text(folder / f"{section.name}.md", "\n".join([lines[0], "", stamp, *lines[1:]]) + "\n")


def assemble(order: Iterable[str], folder: Path) -> str:
    """results.md: the header, then every section file present, in `order`."""
    parts = [(folder / f"{name}.md").read_text() for name in order if (folder / f"{name}.md").exists()]
    return HEADER + "\n".join(parts)


def bench(sections: Mapping[str, Section], wanted: Iterable[str], work: Path, folder: Path, out: Path,
          run_missing: bool = True) -> str:
    """Run the planned sections (each written to folder/<name>.md as it ends), then write and return results.md."""
    import os
    import platform

    from slimpipe import atomic
    from slimpipe.progress import log

    wanted = list(wanted)
    names = plan(sections, wanted, work, run_missing)
    extra = [name for name in names if name not in wanted]
    if extra:
        log("bench", f"running {', '.join(extra)} first: a section asked for reads their outputs, missing in {work}")
    host = f"host: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python {platform.python_version()}"
    for name in names:
        log("bench", f"section {name}")
        write_section(sections[name], work, folder, host)
    text = assemble(sections, folder)
    atomic.write_text(out, text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench/results.md", help="results file, relative to the repo root")
    parser.add_argument("--only", nargs="*", choices=ORDER, default=None, metavar="SECTION",
                        help=f"measure these sections (default all: {', '.join(ORDER)}); a section that reads "
                             "another's outputs (under bench/work) runs it first when they are missing")
    parser.add_argument("--no-deps", action="store_true",
                        help="with --only: stop, naming the missing outputs, rather than run a prerequisite")
    args = parser.parse_args(argv)

    from bench.common import ROOT, WORK
    from slimpipe.errors import SlimpipeError

    try:
        text = bench(load(), args.only or ORDER, WORK, ROOT / "bench" / "sections", ROOT / args.out,
                     run_missing=not args.no_deps)
    except SlimpipeError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(text)


if __name__ == "__main__":
    main()
