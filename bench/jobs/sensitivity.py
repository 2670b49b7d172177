"""Issue 8's ratios: slimpipe's sensitivity analysis against PaddleSlim's FilterPruner.sensitive() on the
classification demo's model, and a class-balanced subset against the whole val split."""
from __future__ import annotations

import os
from pathlib import Path

from bench.common import classification_inputs, ratio_shift, rules_at, table, timed, val_images

NAME = "sensitivity"
CORES = os.cpu_count() or 1  # both settings timed use all of them
DEPENDS = ("classification",)  # the demo's trained model and sample
LOSS = 0.05
SUBSET = 100


def paddleslim_sensitive(model: Path, dataset: Path, layers: list[str], sen_file: Path) -> dict[str, dict]:
    """PaddleSlim's own FilterPruner.sensitive() (structural prune, dygraph evaluation of the whole val
    split, restore) on the same layers and ratios 0.1..0.9; keyed by our structured layer names."""
    from paddleslim.dygraph import L1NormFilterPruner

    from slimpipe import modeldir
    from slimpipe.evaluation import dygraph_forward, evaluate
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    net, info = modeldir.load(model)
    task, val = get_task(info.task), load_split_for(info, dataset, "val")
    pruner = L1NormFilterPruner(net, info.input_shape())
    to_param = {n: p.name for n, p in net.named_parameters()}
    result = pruner.sensitive(eval_func=lambda: evaluate(dygraph_forward(net), task, val)[task.metric_name],
                              sen_file=str(sen_file), target_vars=[to_param[layer] for layer in layers])
    by_param = {v: k for k, v in to_param.items()}
    return {by_param[name]: {round(float(r), 2): float(v) for r, v in losses.items()} for name, losses in result.items()}


def paddleslim_ratios(sensitivities: dict[str, dict], loss: float) -> dict[str, float]:
    """PaddleSlim's own rule from sensitivities to per-layer ratios: its public `paddleslim.prune.get_ratios_by_loss`
    (the module-level twin of the FilterPruner method the dygraph pruner uses; it also lists a layer that no
    ratio keeps within `loss`, at 0, which `ratio_shift` counts as absent)."""
    from paddleslim.prune import get_ratios_by_loss

    return {layer: float(r) for layer, r in get_ratios_by_loss(sensitivities, loss).items()}


def _largest_difference(a: dict[str, dict], b: dict[str, dict]) -> float:
    return max(abs(a[layer][r] - b[layer][r]) for layer in a for r in a[layer])


def run(work: Path) -> list[str]:
    from slimpipe import defaults
    from slimpipe.pruning import sensitivity as sens
    from slimpipe.stages.sensitivity import sensitivity

    model, data, out = classification_inputs(work, NAME)
    n_val = val_images(model, data)
    ours, t_ours = timed(sensitivity, model, data, out / "ours.json", threads=CORES, workers=1)
    whole, t_whole = timed(sensitivity, model, data, out / "whole.json", threads=CORES, workers=1, reuse_prefix=False)
    split, t_split = timed(sensitivity, model, data, out / "workers.json", threads=CORES, workers=CORES)
    theirs, t_theirs = timed(paddleslim_sensitive, model, data, list(ours["sensitivities"]), out / "paddleslim.sen")
    ours_ratios = rules_at(sens.read(out / "ours.json")["table"], LOSS)
    split_ratios = rules_at(sens.read(out / "workers.json")["table"], LOSS)
    theirs_ratios = paddleslim_ratios(theirs, LOSS)
    _, t_sub = timed(sensitivity, model, data, out / "subset.json", threads=CORES, subset=SUBSET)
    sub_ratios = rules_at(sens.read(out / "subset.json")["table"], LOSS)
    n_eval = ours["evaluations"]
    default = (defaults.SENSITIVITY_WORKERS, defaults.SENSITIVITY_THREADS)
    t_default = {(1, CORES): t_ours, (CORES, CORES): t_split}.get(default)
    cmd_s = f"python -m bench.run (sensitivity_speed: classification demo model, {n_val} val images, ratios 0.1..0.9)"
    rows = [
        ("Evaluations (layers x ratios)", f"{n_eval} ({len(ours['sensitivities'])} layers x 9)", "-", None, cmd_s),
        (f"slimpipe sensitivity --workers 1 --threads {CORES} (one MKLDNN predictor, batch norm folded, masked "
         "values written in place; only the network behind a proven cut before the layer is run)", f"{t_ours:.0f} s ({ours['seconds_per_evaluation']:.3f} s per evaluation)", "-",
         None, cmd_s),
        (f"The same without reusing the unchanged front of the network (reuse_prefix=False: every evaluation "
         "runs the whole network)", f"{t_whole:.0f} s ({whole['seconds_per_evaluation']:.3f} s per evaluation; the "
         f"front reuse is {t_whole / t_ours:.2f}x faster)", "-", None, cmd_s),
        ("Front reuse against none: largest loss difference",
         f"{_largest_difference(ours['sensitivities'], whole['sensitivities']):.2e}", "same losses",
         _largest_difference(ours["sensitivities"], whole["sensitivities"]) < 1e-6, cmd_s),
        (f"slimpipe sensitivity --workers {CORES} --threads {CORES} (a predictor per process, 1 thread each)",
         f"{t_split:.0f} s ({split['seconds_per_evaluation']:.3f} s per evaluation; {t_ours / t_split:.2f}x faster "
         f"than --workers 1)", "-", None, cmd_s),
        ("PaddleSlim FilterPruner.sensitive() (dygraph evaluation)", f"{t_theirs:.0f} s "
         f"({t_theirs / n_eval:.3f} s per evaluation)", "-", None, cmd_s),
        (f"Speed-up over PaddleSlim, same run: --workers 1 --threads {CORES}", f"{t_theirs / t_ours:.2f}x", "-", None,
         cmd_s),
        (f"Speed-up over PaddleSlim, same run: --workers {CORES} --threads {CORES}", f"{t_theirs / t_split:.2f}x", "-", None,
         cmd_s),
        (f"Speed-up over PaddleSlim, same run, at the defaults (--workers {default[0]} --threads {default[1]})",
         f"{t_theirs / t_default:.2f}x" if t_default else "not measured (defaults are neither setting above)",
         ">= 30x", t_theirs / t_default >= 30 if t_default else None, cmd_s),
        (f"--workers {CORES} against --workers 1: largest loss difference",
         f"{_largest_difference(ours['sensitivities'], split['sensitivities']):.2e}", "same losses",
         _largest_difference(ours["sensitivities"], split["sensitivities"]) < 1e-6, cmd_s),
        (f"--workers {CORES}: per-layer ratios at eval_metric_loss {LOSS:g}, largest difference from PaddleSlim's",
         f"{ratio_shift(split_ratios, theirs_ratios):.4f}", "same ratios",
         ratio_shift(split_ratios, theirs_ratios) < 1e-3, cmd_s),
        (f"Per-layer ratios at eval_metric_loss {LOSS:g}, largest difference from PaddleSlim's",
         f"{ratio_shift(ours_ratios, theirs_ratios):.4f}", "same ratios", ratio_shift(ours_ratios, theirs_ratios) < 1e-3,
         cmd_s),
        (f"With a {SUBSET}-image class-balanced subset",
         f"{t_sub:.0f} s ({t_ours / t_sub:.2f}x faster than all {n_val})", "-", None, cmd_s),
        (f"Subset: largest change of a layer's ratio at {LOSS:g}", f"{ratio_shift(ours_ratios, sub_ratios):.4f}", "-",
         None, cmd_s),
    ]
    return ["## Sensitivity analysis: speed and subset (issues 8 and 15)", "", *table(rows), ""]
