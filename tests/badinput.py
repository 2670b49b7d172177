"""Harness for the table-driven bad-input tests (tests/test_bad_*.py).

Each case runs one `slimpipe` command against a private workspace and asserts what a user must see:
exit status 2, a message naming the file, line or value at fault, no traceback, and the workspace's tree
exactly as it was before the command (nothing written, nothing deleted, no mode changed).

    CASES = [
        Case("train-out-is-dataset", lambda w: ["train", "--dataset", w.data, "--out", w.data],
             "lies inside", setup=None),
    ]

    @pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
    def test_bad_input(case, workspace):
        check(case, workspace)

`setup(w)` breaks the workspace (a list line, a file) before the snapshot; `argv(w)` builds the command
from the workspace's paths (`w.data`, `w.model`, `w.sens`, `w.root`); `message` is a substring the
error must contain, or a callable of the workspace returning one. `subprocess=True` runs the command in
a child process (for inputs that could crash the interpreter itself, where the exit status is the test).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess as sp
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass
class Workspace:
    """A private folder with a copy of the tiny dataset, model and sensitivities, which a case may break."""

    root: Path

    @property
    def data(self) -> str:
        return str(self.root / "data")

    @property
    def model(self) -> str:
        return str(self.root / "model")

    @property
    def sens(self) -> str:
        return str(self.root / "sens.json")

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[Workspace], list[str]]
    message: str | Callable[[Workspace], str]
    setup: Callable[[Workspace], None] | None = None
    subprocess: bool = False

    def expected(self, w: Workspace) -> str:
        return self.message(w) if callable(self.message) else self.message


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (not following links): kind, mode and content digest."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                tree[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                tree[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                tree[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    tree["."] = ("dir", stat.S_IMODE(root.stat().st_mode))
    return tree


def run_cli(argv: list[str], capsys, in_subprocess: bool = False) -> tuple[int, str]:
    """(exit status, stderr) of `slimpipe argv`, in this process or a child one."""
    if in_subprocess:
        proc = sp.run([sys.executable, "-m", "slimpipe", *argv], capture_output=True, text=True, timeout=600)
        return proc.returncode, proc.stderr
    from slimpipe.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refusing a value at parse time
        code = exc.code
    return code, capsys.readouterr().err


def check(case: Case, w: Workspace, capsys) -> str:
    """Run `case` in `w`; assert exit 2, its message, no traceback and an unchanged tree. Returns stderr."""
    if case.setup:
        case.setup(w)
    argv = [str(a) for a in case.argv(w)]
    before = snapshot(w.root)
    cwd = os.getcwd()
    os.chdir(w.root)  # relative outputs such as `.` resolve inside the workspace
    try:
        code, err = run_cli(argv, capsys, case.subprocess)
    finally:
        os.chdir(cwd)
    assert code == 2, f"exit {code}, expected 2:\n{err}"
    assert "Traceback" not in err, err
    expected = case.expected(w)
    assert expected in err, f"expected {expected!r} in:\n{err}"
    after = snapshot(w.root)
    changed = sorted(set(before.items()) ^ set(after.items()))
    assert not changed, f"the command changed the workspace: {changed[:6]}"
    return err


def make_workspace(root: Path, dataset: Path, model: Path | None = None, sens: Path | None = None) -> Workspace:
    shutil.copytree(dataset, root / "data")
    if model is not None:
        shutil.copytree(model, root / "model")
    if sens is not None:
        shutil.copyfile(sens, root / "sens.json")
    return Workspace(root)
