"""Where a detector's time goes (issue 15: "a measured breakdown of where its time goes"): the exported
program cut after the backbone and before the post-processing (box decoding and NMS, the operators after
the last one reading a parameter), each front timed as its own predictor beside the whole program, for the
unpruned and the pruned model in the same alternating rounds. A part's time is the difference between the
fronts that end around it (a front also fetches its crossing tensors, a copy the whole program does not
make, so a part's share is approximate to that copy).

The cuts come from slimpipe.pruning.program_cut (the same cuts the sensitivity analysis proves); here they
only split the time, no output is compared.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

PARTS = ("backbone", "neck and heads", "post-processing")
ROUNDS, REPEATS = 60, 3  # alternating rounds over the six predictors; runs per predictor per round


@dataclass(frozen=True)
class Cuts:
    """Operator indices (program_cut.Cut) where the backbone ends and where the post-processing begins."""

    backbone: object
    post: object


def find_cuts(program, backbone_params: set[str]) -> Cuts:
    """The latest valid cut before the first operator that reads a parameter outside the backbone, and the
    earliest after the last operator that reads any parameter. Errors name what is missing."""
    from slimpipe.errors import fail
    from slimpipe.pruning.program_cut import _args

    start, end = program.body
    params = {n for n in program.persistable if n in program.readers} - {"feed", "fetch"}
    outside = params - backbone_params
    if not outside or not params & backbone_params:
        raise fail("breakdown: the program reads no parameter of the backbone, or nothing beyond it")
    first_outside = program.first_reader(outside)
    last_reader = max(i for i in range(start, end) if _args(program.ops[i].inputs) & params)
    backbone, post = program.latest_cut(first_outside), program.earliest_cut(last_reader + 1)
    if backbone is None or post is None or not backbone.index < post.index:
        raise fail(f"breakdown: no cut separates the parts (backbone before operator {first_outside}, "
                   f"post-processing after operator {last_reader})")
    return Cuts(backbone, post)


def predictors(model_dir: Path):
    """The model's three timed programs (front to the backbone's end, front to the post-processing, the
    whole), exported in memory from the reloaded network so that parameter names match the net's; and each
    part's FLOPs (PaddleSlim's count, which gives post-processing none)."""
    from slimpipe import modeldir
    from slimpipe.inference import PredictorSettings
    from slimpipe.pruning import program_cut
    from slimpipe.pruning.timing import exported_program, predictor_for
    from slimpipe.tasks import get_task

    from slimpipe.pruning.channels import model_stats

    net, info = modeldir.load(model_dir)
    net.eval()
    shape = info.input_shape()
    whole, backbone_flops = model_stats(net, shape)["flops"], model_stats(net.backbone, shape)["flops"]
    flops = dict(zip(PARTS, (backbone_flops, whole - backbone_flops, 0)))
    program_bytes, params = exported_program(net, get_task(info.task).input_shapes(info.input_size))
    program = program_cut.Program(program_bytes)
    backbone = {t.name for t in list(net.backbone.parameters()) + list(net.backbone.buffers())}
    cuts = find_cuts(program, backbone)
    settings = PredictorSettings()
    fronts = [program_cut.split(program, params, cut)[0] for cut in (cuts.backbone, cuts.post)]
    return [predictor_for(part.program, part.params, settings) for part in fronts] + [
        predictor_for(program_bytes, params, settings)], flops, info


def measure(base_dir: Path, pruned_dir: Path, dataset: Path) -> dict:
    """Each part's milliseconds (median over rounds of each front's median) for both models, timed in the
    same alternating rounds on the benchmark's input (the first val image)."""
    from slimpipe.pruning.timing import alternate
    from slimpipe.stages.common import load_split_for
    from slimpipe.stages.latency_table import timed_feeds
    from slimpipe.tasks import get_task

    base, base_flops, info = predictors(base_dir)
    pruned, pruned_flops, _ = predictors(pruned_dir)
    feeds = timed_feeds(get_task(info.task), load_split_for(info, dataset, "val"), 1)
    timings = alternate(base + pruned, feeds, ROUNDS, REPEATS)
    out = {}
    for name, group, flops in (("base", timings[:3], base_flops), ("pruned", timings[3:], pruned_flops)):
        to_backbone, to_post, whole = (statistics.median(t.samples) for t in group)
        out[name] = dict(zip(PARTS, (to_backbone, to_post - to_backbone, whole - to_post)), whole=whole,
                         flops=flops)
    return out


def rows(parts: dict, cmd: str) -> list[tuple]:
    """Bench table rows: each part's time base -> pruned with its share of the whole, and the speed-up of
    the network without its post-processing."""
    base, pruned = parts["base"], parts["pruned"]
    out = []
    for part in PARTS:
        b, p = base[part], pruned[part]
        speed = f"speed-up {b / p:.2f}x" if p > 0 else "-"
        fb, fp = base["flops"][part], pruned["flops"][part]
        flops = (f"; FLOPs {fb / 1e6:.1f}M -> {fp / 1e6:.1f}M ({fb / fp:.2f}x fewer, efficiency "
                 f"{b / p / (fb / fp):.2f})" if fb and fp and p > 0 else "")
        out.append((f"Detector time, {part}: base -> pruned (share of the whole)",
                    f"{b:.2f} ms ({b / base['whole']:.0%}) -> {p:.2f} ms ({p / pruned['whole']:.0%}), {speed}{flops}",
                    "-", None, cmd))
    net_b, net_p = base["whole"] - base[PARTS[2]], pruned["whole"] - pruned[PARTS[2]]
    fewer = sum(base["flops"].values()) / sum(pruned["flops"].values())
    out.append(("Detector speed-up, whole program against the network without post-processing",
                f"{base['whole'] / pruned['whole']:.2f}x whole ({base['whole']:.2f} -> {pruned['whole']:.2f} ms); "
                f"{net_b / net_p:.2f}x without post-processing ({net_b:.2f} -> {net_p:.2f} ms); {fewer:.2f}x fewer "
                f"FLOPs (efficiency {base['whole'] / pruned['whole'] / fewer:.2f} whole, {net_b / net_p / fewer:.2f} "
                "without post-processing)", "-", None, cmd))
    return out
