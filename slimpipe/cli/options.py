"""Argument types shared by several subcommands, so a flag means the same everywhere."""
from __future__ import annotations

import argparse
import math
from typing import Callable


def size(text: str) -> tuple[int, int]:
    """`32` or `32x48` (height x width)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"input size {text!r}: expected N or HxW") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 8:
        raise argparse.ArgumentTypeError(f"input size {text!r}: expected N or HxW, each at least 8")
    return parts[0], parts[1]


def key_values(text: str) -> dict[str, str]:
    """`scale=0.5,other=1` -> {"scale": "0.5", "other": "1"}."""
    from slimpipe.errors import SlimpipeError
    from slimpipe.models.registry import parse_options

    try:
        return parse_options(text)
    except SlimpipeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def on_off(text: str) -> bool:
    if text not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected on or off")
    return text == "on"


def bounded(kind: type, low: float | None = None, high: float | None = None,
            exclusive: bool = False) -> Callable[[str], int | float]:
    """An argument type: an int or a finite float within [low, high] ((low, high) with `exclusive`), refused
    at parse time otherwise, with the value in the message."""
    noun = "an integer" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: expected {noun}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r}: expected a finite number")
        if low is not None and (value <= low if exclusive else value < low):
            raise argparse.ArgumentTypeError(f"{text}: must be {'above' if exclusive else 'at least'} {low:g}")
        if high is not None and (value >= high if exclusive else value > high):
            raise argparse.ArgumentTypeError(f"{text}: must be {'below' if exclusive else 'at most'} {high:g}")
        return value

    parse.__name__ = kind.__name__
    return parse


def one_of(names, unset: str | None = None) -> Callable[[str], str]:
    """An argument type: one of `names` (or `unset`, a pipeline's "not given", which argparse also passes
    through the type as the default), refused at parse time otherwise, naming the value and the choices."""
    def parse(text: str) -> str:
        if text not in names and text != unset:
            raise argparse.ArgumentTypeError(f"{text!r}: expected one of {', '.join(names)}")
        return text

    parse.__name__ = "choice"
    return parse


COUNT = bounded(int, 1)              # epochs, batch sizes, threads, repeats, shards, subset sizes
NON_NEGATIVE = bounded(int, 0)       # seeds, warm-up runs
POSITIVE = bounded(float, 0.0, exclusive=True)   # learning rates, loss caps
FINITE = bounded(float)


def add_output(cmd: argparse.ArgumentParser, what: str) -> None:
    """`--out` and `--overwrite`: the output rule is slimpipe.atomic.claim's."""
    from slimpipe.atomic import OVERWRITE_HELP

    cmd.add_argument("--out", required=True, help=what)
    cmd.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)


def add_train_settings(cmd: argparse.ArgumentParser, stage: str, epochs: int, learning_rate: float) -> None:
    """--epochs, --batch-size, --learning-rate and --seed, with the help of `stage`'s component."""
    from slimpipe import defaults
    from slimpipe.cli.docs import help_text

    cmd.add_argument("--epochs", type=COUNT, default=epochs, help=help_text(stage, "epochs", epochs))
    cmd.add_argument("--batch-size", type=COUNT, default=defaults.BATCH_SIZE,
                     help=help_text(stage, "batch_size", defaults.BATCH_SIZE))
    cmd.add_argument("--learning-rate", type=POSITIVE, default=learning_rate,
                     help=help_text(stage, "learning_rate", learning_rate))
    cmd.add_argument("--seed", type=NON_NEGATIVE, default=defaults.SEED, help=help_text(stage, "seed", defaults.SEED))
