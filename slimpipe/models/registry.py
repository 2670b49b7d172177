"""Architectures by name: metadata (title, task, input size, options) and a builder imported on first build.

This module imports nothing beyond the standard library and `slimpipe.errors`: the built-in entries live in
`slimpipe.models.catalogue` (stdlib only, loaded with the `slimpipe.models` package), each naming its builder
as a `"module:function"` path, so looking up an architecture's title or task never imports paddle or a model
module; `build_model` imports the builder's module on first use. Stages only ever call `build_model(arch, ...)`.
"""
from __future__ import annotations

import importlib
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
    builder: str | Callable[..., Any]  # "package.module:function", imported on first build, or the callable
    input_size: tuple[int, int]
    options: dict[str, Any] = field(default_factory=dict)
    help: str = ""

    @property
    def builder_name(self) -> str:
        """The builder as `module:function`, for messages."""
        if isinstance(self.builder, str):
            return self.builder
        return f"{getattr(self.builder, '__module__', '?')}:{getattr(self.builder, '__qualname__', self.builder)}"

    def load_builder(self) -> Callable[..., Any]:
        """The builder, importing its module when it is given by path."""
        if not isinstance(self.builder, str):
            return self.builder
        module, sep, attr = self.builder.partition(":")
        if not sep or not module or not attr:
            raise fail(f"architecture {self.name!r}: builder {self.builder!r} is not 'module:function'")
        built = importlib.import_module(module)  # an ImportError here is a broken install: keep its traceback
        try:
            return getattr(built, attr)
        except AttributeError:
            raise fail(f"architecture {self.name!r}: module {module!r} has no builder {attr!r}") from None


_ARCHS: dict[str, ArchSpec] = {}


def register(spec: ArchSpec) -> ArchSpec:
    """Add an architecture; a name already taken is refused (naming both entries) rather than replaced."""
    first = _ARCHS.get(spec.name)
    if first is not None:
        raise fail(f"architecture {spec.name!r} is registered twice: {first.title!r} built by "
                   f"{first.builder_name} and {spec.title!r} built by {spec.builder_name}")
    _ARCHS[spec.name] = spec
    return spec


def list_archs(task: str | None = None) -> list[ArchSpec]:
    return [s for s in _ARCHS.values() if task is None or s.task == task]


def get_arch(name: str, task: str | None = None) -> ArchSpec:
    spec = _ARCHS.get(name)
    if spec is None:
        raise fail(f"unknown architecture {name!r}; available: {', '.join(sorted(_ARCHS))}")
    if task is not None and spec.task != task:
        raise fail(f"architecture {name!r} is for task {spec.task!r}, not {task!r}")
    return spec


def arch_title(name: str) -> str:
    """The report title of an architecture (its name when it is not registered)."""
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
    model = spec.load_builder()(num_classes=num_classes, **resolve_options(spec, options))
    model.eval()
    return model
