"""Where a stage writes, and how: one rule for every output path, and write aside, then rename.

The output rule (`claim`, called by every stage before it spends any time):
- an output is never an input, never inside one, and never holds one (nor the working directory);
- an existing output is replaced only when it is an earlier output of the same stage (a folder carries a
  `.slimpipe-output` marker naming its stage; a file is recognised by its content), or with `overwrite`;
- a folder is never put where a file is, nor a file where a folder is, and a symbolic link is never
  followed to its target;
- the location must be writable, which is tried before any work starts.

Writes (`write_bytes`, `output_dir`) go to a hidden sibling first and are renamed into place only when
complete, so a failed stage leaves nothing half-written and keeps what was there; a replaced file or folder
keeps its permission bits, and a new one gets the usual ones (0666 / 0777 less the umask).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from slimpipe.errors import fail

MARKER = ".slimpipe-output"
OVERWRITE_HELP = "replace an existing output that is not an earlier output of this stage"
Recogniser = Callable[[Path], bool]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sibling_tmp(path: Path, is_dir: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def _mode_for(path: Path, is_dir: bool) -> int:
    """The replaced entry's permission bits, or the usual ones for a new entry."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return (0o777 if is_dir else 0o666) & ~_umask()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically replace `path` with `data`."""
    path = Path(os.path.abspath(path))
    tmp = _sibling_tmp(path, is_dir=False)
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, _mode_for(path, is_dir=False))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, stage: str | None = None) -> Iterator[Path]:
    """Yield a scratch directory that becomes `path` only if the block succeeds.

    An existing `path` is kept until the new one is complete, then swapped out (its mode is kept). With
    `stage`, the folder is marked as that stage's output, so a later run of the stage may replace it.
    """
    path = Path(os.path.abspath(path))
    tmp = _sibling_tmp(path, is_dir=True)
    try:
        yield tmp
        if stage:
            (tmp / MARKER).write_text(json.dumps({"stage": stage}) + "\n")
        os.chmod(tmp, _mode_for(path, is_dir=True))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def marked_by(path: Path, stage: str) -> bool:
    """Whether folder `path` is an earlier output of `stage` (its marker says so)."""
    try:
        return json.loads((path / MARKER).read_text()).get("stage") == stage
    except (OSError, ValueError, AttributeError):
        return False


def json_tagged(tag: str, limit: int = 64 << 20) -> Recogniser:
    """A recogniser of JSON files whose `format` is `tag` (files over `limit` bytes are not read)."""

    def recognise(path: Path) -> bool:
        try:
            if path.stat().st_size > limit:
                return False
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and data.get("format") == tag

    return recognise


def text_starting(prefix: str) -> Recogniser:
    """A recogniser of text files that begin with `prefix`."""
    head = prefix.encode("utf-8")

    def recognise(path: Path) -> bool:
        try:
            with path.open("rb") as f:
                return f.read(len(head)) == head
        except OSError:
            return False

    return recognise


def png_from(software: str) -> Recogniser:
    """A recogniser of PNG files whose `Software` text chunk (before the image data) is `software`."""
    wanted = b"Software\0" + software.encode("latin-1")

    def recognise(path: Path) -> bool:
        try:
            with path.open("rb") as f:
                if f.read(8) != b"\x89PNG\r\n\x1a\n":
                    return False
                for _ in range(64):
                    head = f.read(8)
                    if len(head) < 8 or head[4:] == b"IDAT":
                        return False
                    size = int.from_bytes(head[:4], "big")
                    body = f.read(size)
                    f.read(4)
                    if head[4:] == b"tEXt" and body == wanted:
                        return True
        except OSError:
            return False
        return False

    return recognise


def _inside(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def claim(out: str | os.PathLike, stage: str, inputs: Mapping[str, Any] | None = None,
          overwrite: bool = False, folder: bool = True, ours: Recogniser | None = None) -> Path:
    """Check that `stage` may write its output (a folder, or a file with `folder=False`) at `out`, before any
    work is done; raises SlimpipeError naming the path and the reason. `inputs` maps a name ("dataset") to
    a local input path or a list of them (object-store URIs and None are skipped). A file output is replaced only when
    `ours` recognises it as an earlier output of the stage, or with `overwrite`."""
    what = "folder" if folder else "file"
    raw = Path(out)
    if not str(out).strip():
        raise fail(f"{stage}: the output path is empty")
    if raw.is_symlink():
        raise fail(f"{out}: output is a symbolic link; name the real {what} instead")
    target = Path(os.path.realpath(raw))
    if target.parent == target:
        raise fail(f"{out}: cannot write the output at the file-system root")
    cwd = Path.cwd().resolve()
    if _inside(cwd, target):
        raise fail(f"{out}: output would replace the working directory {cwd}; name a new {what} instead")
    named = [(name, v) for name, value in (inputs or {}).items()
             for v in (value if isinstance(value, (list, tuple)) else [value])]
    for name, value in named:
        if value is None or str(value).startswith(("s3://", "minio://")):
            continue
        source = Path(os.path.realpath(value))
        if target == source:
            raise fail(f"{out}: output is the {name} {value}; name a new {what} instead")
        if _inside(target, source):
            raise fail(f"{out}: output lies inside the {name} {value}; name a {what} outside it")
        if _inside(source, target):
            raise fail(f"{out}: output would contain the {name} {value}; name a {what} that does not hold it")
    if target.exists():
        if folder and not target.is_dir():
            raise fail(f"{out}: is a file; {stage} writes a folder there (name a new folder)")
        if not folder and target.is_dir():
            raise fail(f"{out}: is a folder; {stage} writes a file there (name a file)")
        if not overwrite and not (folder and not any(target.iterdir())):
            earlier = marked_by(target, stage) if folder else bool(ours and ours(target))
            if not earlier:
                raise fail(f"{out}: exists and is not an earlier output of {stage}; name a new {what}, or pass "
                           f"--overwrite to replace it")
    _check_writable(target, out)
    return target


def _check_writable(target: Path, out: str | os.PathLike) -> None:
    """Create and remove a scratch file where the output will be written (its nearest existing folder)."""
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise fail(f"{out}: {parent} is a file, not a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=".slimpipe-probe.", dir=parent)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise fail(f"{out}: cannot write in {parent}: {exc.strerror}") from None
