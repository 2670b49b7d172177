"""Shared fixtures: a tiny digits dataset and a tiny trained model, built once per session."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import slimpipe  # noqa: F401  (Pillow before paddle; see slimpipe/__init__.py)

TINY = {"arch_options": {"scale": 0.25}, "input_size": (32, 32)}


def trim_lists(root: Path, train_per_class: int, val_per_class: int) -> None:
    """Keep the first N lines per class of each list, so tests run on a few hundred images."""
    for name, keep in (("train_list.txt", train_per_class), ("val_list.txt", val_per_class)):
        counts: dict[str, int] = {}
        kept = []
        for line in (root / name).read_text().splitlines():
            cls = line.split()[1]
            if counts.get(cls, 0) < keep:
                counts[cls] = counts.get(cls, 0) + 1
                kept.append(line)
        (root / name).write_text("\n".join(kept) + "\n")


def drop_unlisted(root: Path) -> None:
    """Delete the images no list names, so that the many private copies tests make stay small."""
    listed = {line.split()[0] for name in ("train_list.txt", "val_list.txt")
              for line in (root / name).read_text().splitlines() if line.strip()}
    for path in (root / "images").rglob("*"):
        if path.is_file() and path.relative_to(root).as_posix() not in listed:
            path.unlink()


@pytest.fixture(scope="session")
def digits_full(tmp_path_factory) -> Path:
    from slimpipe.tasks import get_task

    root = tmp_path_factory.mktemp("digits") / "full"
    get_task("classification").write_sample(root)
    return root


@pytest.fixture(scope="session")
def tiny_dataset(digits_full, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny") / "data"
    shutil.copytree(digits_full, root)
    trim_lists(root, train_per_class=20, val_per_class=6)
    drop_unlisted(root)
    return root


@pytest.fixture
def copy_of(tmp_path):
    """`copy_of(root)`: a private copy of a dataset at tmp_path/data, which a test may break."""
    return lambda root: Path(shutil.copytree(root, tmp_path / "data"))


@pytest.fixture
def dataset_copy(tiny_dataset, copy_of) -> Path:
    return copy_of(tiny_dataset)


@pytest.fixture(scope="session")
def tiny_model(tiny_dataset, tmp_path_factory) -> Path:
    from slimpipe.stages.train import train

    out = tmp_path_factory.mktemp("model") / "model"
    train(tiny_dataset, out, epochs=1, **TINY)
    return out


@pytest.fixture(scope="session")
def tiny_sensitivities(tiny_model, tiny_dataset, tmp_path_factory) -> Path:
    from slimpipe.stages.sensitivity import sensitivity

    out = tmp_path_factory.mktemp("sens") / "sensitivities.json"
    sensitivity(tiny_model, tiny_dataset, out, ratios=[0.3, 0.6])
    return out


@pytest.fixture
def workspace(tmp_path, tiny_dataset, tiny_model, tiny_sensitivities):
    """A private copy of the tiny dataset, model and sensitivities for one bad-input case (tests/badinput.py)."""
    from tests.badinput import make_workspace

    root = tmp_path / "ws"
    root.mkdir()
    return make_workspace(root, tiny_dataset, tiny_model, tiny_sensitivities)
