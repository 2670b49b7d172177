"""The model registry holds metadata and lazy builders: lookups import no model module and no paddle."""
from __future__ import annotations

import subprocess
import sys

import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.models import registry
from slimpipe.models.registry import ArchSpec, build_model, get_arch, list_archs, register


class TinyLayer:
    """Stands for a paddle layer: build_model only calls `eval()` on what the builder returns."""

    def __init__(self, num_classes: int, width: int = 4):
        self.num_classes, self.width, self.evaluated = num_classes, width, False

    def eval(self) -> None:
        self.evaluated = True


@pytest.fixture
def scratch_registry(monkeypatch):
    """The built-in entries in a copy that the test may add to."""
    monkeypatch.setattr(registry, "_ARCHS", dict(registry._ARCHS))


def spec(name: str, builder, title: str = "Tiny") -> ArchSpec:
    return ArchSpec(name=name, title=title, task="classification", builder=builder, input_size=(8, 8),
                    options={"width": 4})


def test_a_duplicate_name_is_refused_naming_both_entries(scratch_registry):
    with pytest.raises(SlimpipeError, match=r"'mobilenetv2' is registered twice: 'MobileNetV2' built by "
                                            r"slimpipe\.models\.mobilenetv2:build_mobilenetv2 and 'Other' built by "
                                            r"tests\.test_model_registry:TinyLayer"):
        register(spec("mobilenetv2", f"{__name__}:TinyLayer", title="Other"))
    assert get_arch("mobilenetv2").title == "MobileNetV2"


def test_looking_up_every_architecture_imports_neither_paddle_nor_a_model_module():
    code = ("import sys; from slimpipe.models.registry import arch_title, get_arch, list_archs; "
            "names = [s.name for s in list_archs()]; "
            "assert all(arch_title(n) and get_arch(n).task for n in names), names; "
            "print(len(names), *sorted(m for m in sys.modules if m.split('.')[0] in ('paddle', 'paddleslim') "
            "or m.startswith('slimpipe.models.') and m.rsplit('.', 1)[1] not in ('registry', 'catalogue')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(list_archs()))] and int(out[0]) >= 4


def test_a_builder_named_by_path_is_imported_on_first_build(scratch_registry):
    register(spec("tiny", f"{__name__}:TinyLayer"))
    model = build_model("tiny", 3, {"width": "6"})
    assert isinstance(model, TinyLayer) and (model.num_classes, model.width, model.evaluated) == (3, 6, True)


def test_a_builder_path_without_a_function_is_refused_when_built(scratch_registry):
    register(spec("tiny", "tests.test_model_registry"))
    with pytest.raises(SlimpipeError, match=r"'tiny': builder 'tests.test_model_registry' is not 'module:function'"):
        build_model("tiny", 3)


def test_every_built_in_builder_path_names_a_callable():
    assert all(callable(s.load_builder()) for s in list_archs())
