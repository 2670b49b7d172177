"""Register architectures once; stages only ever call `build_model(arch, ...)`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from slimpipe.errors import fail


@dataclass(frozen=True)
class ArchSpec:
    """How to build one architecture, for which task, with which tunable options."""

    name: str
    title: str  # as the reports print it
    task: str
    builder: Callable[..., Any]
    input_size: tuple[int, int]
    options: dict[str, Any] = field(default_factory=dict)
    help: str = ""


_ARCHS: dict[str, ArchSpec] = {}


def register(spec: ArchSpec) -> ArchSpec:
    _ARCHS[spec.name] = spec
    return spec


def _load_builtin() -> None:
    from slimpipe.models import fast_scnn, mobilenetv2, unet, yolov3  # noqa: F401  (register on import)


def list_archs(task: str | None = None) -> list[ArchSpec]:
    _load_builtin()
    return [s for s in _ARCHS.values() if task is None or s.task == task]


def get_arch(name: str, task: str | None = None) -> ArchSpec:
    _load_builtin()
    spec = _ARCHS.get(name)
    if spec is None:
        raise fail(f"unknown architecture {name!r}; available: {', '.join(sorted(_ARCHS))}")
    if task is not None and spec.task != task:
        raise fail(f"architecture {name!r} is for task {spec.task!r}, not {task!r}")
    return spec


def arch_title(name: str) -> str:
    """The report title of an architecture (its name when it is not registered)."""
    _load_builtin()
    spec = _ARCHS.get(name)
    return spec.title if spec else name


def resolve_options(spec: ArchSpec, options: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with user options; unknown option names are refused."""
    merged = dict(spec.options)
    for key, value in (options or {}).items():
        if key not in spec.options:
            raise fail(f"architecture {spec.name!r} has no option {key!r}; options: {sorted(spec.options)}")
        merged[key] = _as_type_of(spec.options[key], value, f"{spec.name} option {key}")
    return merged


def _as_type_of(default: Any, value: Any, what: str) -> Any:
    """`value` converted to the type of `default`; booleans accept true/false, yes/no, 1/0. Numeric options
    (widths, scales, sizes) must be finite and positive: `scale=0` would build a model with no channels."""
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            if not isinstance(value, str) or value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "yes", "1")
        if isinstance(default, (int, float)) and isinstance(value, bool):
            raise ValueError(value)
        if isinstance(default, int) and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        converted = type(default)(value)
    except (ValueError, TypeError, OverflowError):
        raise fail(f"{what}: {value!r} is not a valid {type(default).__name__}") from None
    if isinstance(default, (int, float)) and not (math.isfinite(converted) and converted > 0):
        raise fail(f"{what}: {value!r} must be a finite number above 0")
    return converted


def parse_options(text: str) -> dict[str, str]:
    """`scale=0.35,other=1` -> {"scale": "0.35", "other": "1"}; empty text -> {}."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"architecture option {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def build_model(arch: str, num_classes: int, options: dict[str, Any] | None = None) -> Any:
    """A fresh paddle.nn.Layer for `arch` in eval mode."""
    spec = get_arch(arch)
    model = spec.builder(num_classes=num_classes, **resolve_options(spec, options))
    model.eval()
    return model
