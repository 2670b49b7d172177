"""Argument types shared by several subcommands, so a flag means the same everywhere."""
from __future__ import annotations

import argparse


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


def add_train_settings(cmd: argparse.ArgumentParser, epochs: int, learning_rate: float) -> None:
    cmd.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    cmd.add_argument("--batch-size", type=int, default=16, help="training batch size (default 16)")
    cmd.add_argument("--learning-rate", type=float, default=learning_rate,
                     help=f"initial learning rate, cosine-decayed (default {learning_rate})")
    cmd.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
