"""Each default written once (slimpipe.defaults) and each parameter's help once (the components' and the
pipeline's `Args:`): the CLI, the stages, the components and the pipeline agree, and the compiled components
describe every input."""
import argparse
import ast
import importlib
import inspect
from pathlib import Path

import pytest
import yaml

from slimpipe import defaults
from slimpipe.cli import build_parser, docs

ROOT = Path(__file__).resolve().parents[1]
COMPONENT_DIRS = sorted(p.parent.name for p in (ROOT / "components").glob("*/component.py"))
# Subcommand (= component folder) -> the stage function it calls, and where the subcommand's option names
# differ from the stage's parameters.
STAGES = {
    "train": ("slimpipe.stages.train", "train", {}),
    "prune_train": ("slimpipe.stages.prune_train", "prune_train", {}),
    "sensitivity": ("slimpipe.stages.sensitivity", "sensitivity", {}),
    "latency_table": ("slimpipe.stages.latency_table", "latency_table", {}),
    "benchmark": ("slimpipe.stages.benchmark", "benchmark", {}),
    "ingest": ("slimpipe.stages.ingest", "ingest", {}),
    "sweep_select": ("slimpipe.stages.sweep", "sweep_select", {}),
    "publish": ("slimpipe.stages.publish", "publish", {}),
}
# Pipeline parameter -> the component parameters it is passed to; the pipeline's own defaults (shorter training
# for a first run) are the ones named PIPELINE_* in slimpipe.defaults.
PIPELINE_TO_COMPONENTS = {
    "task": [("train", "task"), ("ingest", "task")],
    "batch_size": [("train", "batch_size"), ("prune_train", "batch_size")],
    "eval_metric_loss": [("prune_train", "eval_metric_loss")],
    "criterion": [("sensitivity", "criterion")],
    "ratios": [("sensitivity", "ratios")],
    "benchmark_threads": [("benchmark", "threads")],
    "benchmark_warmup": [("benchmark", "warmup")],
    "benchmark_repeats": [("benchmark", "repeats")],
    "gpu_precision": [("benchmark", "precision")],
    "max_drop_points": [("publish", "max_drop_points"), ("sweep_select", "max_drop_points")],
}
# Component defaults where the stage has none (the stage needs one target of several; the component, like the
# pipeline, defaults to the loss threshold).
COMPONENT_OWN = {("prune_train", "eval_metric_loss"): defaults.EVAL_METRIC_LOSS}
PIPELINE_OWN = {"epochs": defaults.PIPELINE_EPOCHS, "prune_epochs": defaults.PIPELINE_PRUNE_EPOCHS}
# "Unset" and "off" values, and switches: not defaults that need a name.
NEUTRAL = (None, "", 0, 0.0, False, True, -1, {})


def neutral(value) -> bool:
    return any(type(value) is type(n) and value == n for n in NEUTRAL)


def stage_function(name: str):
    module, function, _ = STAGES[name]
    return getattr(importlib.import_module(module), function)


def component(name: str):
    return getattr(importlib.import_module(f"{docs.COMPONENTS}.{name}.component"), name)


def signature_defaults(function) -> dict:
    return {n: p.default for n, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def subcommand_defaults(name: str) -> dict:
    parser = build_parser(name.replace("_", "-"))
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cmd = sub.choices[name.replace("_", "-")]
    return {a.dest: a.default for a in cmd._actions if a.dest not in ("help", "out", "overwrite")}


def as_stage_value(name: str, value):
    """A command-line or component value as the stage takes it (ratios are given as text)."""
    return defaults.ratios(value) if name == "ratios" and isinstance(value, str) else value


def literal_defaults(path: Path, functions: set[str] | None = None) -> list[str]:
    """Non-neutral literal defaults in the signatures of `functions` (all public ones when None) and in
    `add_argument(default=...)` calls: the copies a default written once leaves no room for."""
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def check(node, where):
        try:
            value = ast.literal_eval(node)
        except ValueError:
            return  # a name: slimpipe.defaults or a constant of the module
        if not neutral(value):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {where} = {value!r}")

    for node in ast.walk(tree):
        public = not node.name.startswith("_") if isinstance(node, ast.FunctionDef) else False
        if isinstance(node, ast.FunctionDef) and (node.name in functions if functions else public):
            args = node.args
            for arg, default in zip(args.args[len(args.args) - len(args.defaults):], args.defaults):
                check(default, f"{node.name}({arg.arg})")
            for arg, default in zip(args.kwonlyargs, args.kw_defaults):
                if default is not None:
                    check(default, f"{node.name}({arg.arg})")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            for kw in node.keywords:
                if kw.arg == "default":
                    check(kw.value, f"add_argument({ast.literal_eval(node.args[0]) if node.args else '?'})")
    return found


def test_stages_subcommands_and_pipeline_write_no_default_as_a_literal():
    checked = [(ROOT / f"{module.replace('.', '/')}.py", {function}) for module, function, _ in STAGES.values()]
    checked += [(ROOT / "slimpipe/cli" / f"{name}.py", None) for name in (*STAGES, "sample", "options")]
    checked += [(ROOT / "pipelines/prune_pipeline.py", {"prune_pipeline"})]
    found = [hit for path, functions in checked for hit in literal_defaults(path, functions)]
    assert found == []


@pytest.mark.parametrize("name", sorted(STAGES))
def test_subcommand_defaults_are_the_stage_defaults(name):
    stage = signature_defaults(stage_function(name))
    renamed = STAGES[name][2]
    compared = 0
    for dest, value in subcommand_defaults(name).items():
        param = renamed.get(dest, dest)
        if param in stage and value is not None and not (neutral(value) and neutral(stage[param])):
            assert as_stage_value(param, value) == stage[param], f"slimpipe {name} --{dest}"
            compared += 1
    assert compared or name in ("publish", "ingest") or not stage


@pytest.mark.parametrize("name", sorted(STAGES))
def test_component_defaults_are_the_stage_defaults(name):
    """The component's signature holds literals (kfp embeds the signature in the step's program, where
    slimpipe.defaults is not imported): each must equal the stage's default, or be a sentinel (0, "")."""
    stage = signature_defaults(stage_function(name))
    for param, value in signature_defaults(component(name).python_func).items():
        if param in stage and not neutral(value):
            expected = COMPONENT_OWN.get((name, param), stage[param])
            assert as_stage_value(param, value) == expected, f"components/{name} {param}"


def test_pipeline_defaults_are_the_components_defaults():
    from slimpipe.pipelines.build import pipeline_func

    pipeline = signature_defaults(pipeline_func().pipeline_func)
    for param, targets in PIPELINE_TO_COMPONENTS.items():
        for name, target in targets:
            assert pipeline[param] == signature_defaults(component(name).python_func)[target], (param, name)
    for param, value in PIPELINE_OWN.items():
        assert pipeline[param] == value


def test_the_stage_and_training_defaults_are_the_modules():
    from slimpipe.training import TrainSettings

    settings = TrainSettings()
    assert (settings.epochs, settings.batch_size, settings.learning_rate, settings.seed) == \
        (defaults.TRAIN_EPOCHS, defaults.BATCH_SIZE, defaults.TRAIN_LEARNING_RATE, defaults.SEED)
    assert signature_defaults(stage_function("train"))["epochs"] == defaults.TRAIN_EPOCHS
    assert signature_defaults(stage_function("prune_train"))["learning_rate"] == defaults.PRUNE_LEARNING_RATE
    assert signature_defaults(stage_function("sensitivity"))["ratios"] == defaults.ratios(defaults.SENSITIVITY_RATIOS)


@pytest.mark.parametrize("name", COMPONENT_DIRS)
def test_each_component_step_program_defines_its_function(name):
    """What kfp runs in the pod: the embedded program must define the function with the imports kfp gives
    it, so a component's defaults stay literals."""
    module = importlib.import_module(f"{docs.COMPONENTS}.{name}.component")
    comps = [c for c in vars(module).values()
             if hasattr(c, "python_func") and c.python_func.__module__ == module.__name__]
    assert comps
    for comp in comps:
        program = comp.component_spec.implementation.container.command[-1]
        namespace: dict = {}
        exec(compile(program, f"<{name} step>", "exec"), namespace)
        assert callable(namespace[comp.python_func.__name__])


@pytest.mark.parametrize("name", COMPONENT_DIRS)
def test_every_component_input_has_a_description_in_its_compiled_spec(name, tmp_path):
    from kfp import compiler

    module = importlib.import_module(f"{docs.COMPONENTS}.{name}.component")
    comp = getattr(module, name)
    compiler.Compiler().compile(comp, str(tmp_path / "component.yaml"))
    spec = yaml.safe_load((tmp_path / "component.yaml").read_text())
    inputs = spec["root"].get("inputDefinitions", {})
    entries = {**inputs.get("parameters", {}), **inputs.get("artifacts", {})}
    missing = [key for key, entry in entries.items() if not entry.get("description")]
    assert entries and missing == []


def test_every_pipeline_parameter_has_help_in_the_pipeline_docstring():
    from slimpipe.pipelines.build import pipeline_func

    function = pipeline_func().pipeline_func
    helps = docs.args_section(function.__doc__)
    assert set(helps) == set(inspect.signature(function).parameters)


def test_the_pipeline_flags_help_is_the_pipeline_docstring():
    from slimpipe.pipelines.build import pipeline_func

    helps = docs.args_section(pipeline_func().pipeline_func.__doc__)
    parser = build_parser("run")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices["run"]._actions if a.dest == "p_sensitivity_subset")
    assert action.help == f"{helps['sensitivity_subset'].rstrip('.')} (default 0)"


def test_a_subcommand_help_is_its_component_docstring_without_pipeline_sentinels():
    parser = build_parser("sensitivity")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub.choices["sensitivity"]._actions}
    component_text = docs.component_args("sensitivity")["subset"]
    assert "0 = all" in component_text
    assert helps["subset"] == component_text.split(";")[0]
    assert helps["threads"] == f"{docs.component_args('sensitivity')['threads'].rstrip('.')} " \
                               f"(default {defaults.SENSITIVITY_THREADS})"


def test_args_section_joins_continued_lines_and_stops_at_the_next_section():
    doc = """Summary.

    Args:
        first: one line.
        second (int): two
            lines.

    Returns:
        nothing: not an argument.
    """
    assert docs.args_section(doc) == {"first": "one line.", "second": "two lines."}


def test_for_cli_drops_only_sentinel_clauses():
    assert docs.for_cli("checkpoint path; empty = none.") == "checkpoint path"
    assert docs.for_cli("input size (0 = the default), square.") == "input size, square"
    assert docs.for_cli("a ratio; 0 = unset; others kept.") == "a ratio; others kept"
