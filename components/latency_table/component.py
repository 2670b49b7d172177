"""Latency table: per-layer latency saved by structural pruning, on the benchmark's predictor settings."""
from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from slimpipe.components._image import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, install_kfp_package=False)
def latency_table(model: Input[Model], dataset: Input[Dataset], latency_table: Output[Artifact],
                  device: str = "", mkldnn: str = "", threads: int = 0, batch: int = 0, ratios: str = "",
                  shard: str = "", rounds: int = 0, repeats: int = 0, settle: int = -1, measure: bool = True,
                  method: str = "", plans: int = 0):
    """Time the exported model pruned by random whole plans and fit each prunable layer's saving per ratio to
    them (method `plans`), or time each layer pruned alone at each ratio (method `layers`), against the
    unpruned model in alternating rounds. Empty or 0 arguments take the stage's defaults: the benchmark's
    settings (`device`, `mkldnn` on|off, `threads`, `batch`) and the stage's method, plans, ratios, rounds,
    repeats and settling runs (-1 for `settle`, where 0 means none). With `measure` false (a run without a
    latency target) nothing is timed: the output records that no table was asked for, and a step that needs
    one refuses it by that reason.

    Args:
        model: the trained model.
        dataset: the dataset; its first val image(s) are the timed input.
        device: predictor device, cpu or gpu; empty = the benchmark's.
        mkldnn: on or off; empty = the benchmark's.
        threads: CPU math threads; 0 = the benchmark's.
        batch: images per timed run; 0 = the benchmark's.
        ratios: comma-separated ratios plans draw from, or each layer is timed at; empty = the stage's.
        shard: measure only shard i/n (every n-th plan, or layer, from the i-th); empty = all.
        rounds: alternating rounds of the unpruned and pruned models per plan or layer; 0 = the stage's.
        repeats: timed runs per model and round, their median the round's figure; 0 = the stage's.
        settle: untimed runs of each model before its timed ones per round (timed warm); -1 = the stage's.
        measure: time the model; false records that no table was asked for.
        method: plans (fit per-layer savings to random whole plans) or layers (each layer alone); empty = plans.
        plans: how many plans to time; 0 = the stage's (twice the prunable layers and 4, at least 40).
    """
    from slimpipe.kfp_io import report_failures

    report_failures("latency_table")

    if not measure:
        from slimpipe.pruning.latency import write_not_measured

        write_not_measured(latency_table.path, "the run has no latency target")
        latency_table.metadata["measured"] = False
        return

    from slimpipe.kfp_io import given
    from slimpipe.pruning.sensitivity import parse_ratios
    from slimpipe.stages.latency_table import latency_table as run
    from slimpipe.stages.sensitivity import parse_shard

    if mkldnn not in ("", "on", "off"):
        from slimpipe.errors import fail

        raise fail(f"mkldnn {mkldnn!r}: expected on, off or empty (the benchmark's default)")
    asked = {"device": given(device), "mkldnn": {"on": True, "off": False}.get(mkldnn), "threads": given(threads),
             "batch": given(batch), "ratios": parse_ratios(ratios) if ratios else None,
             "shard": parse_shard(shard) if shard else None, "rounds": given(rounds), "repeats": given(repeats),
             "settle": None if settle == -1 else settle, "method": given(method), "plans": given(plans)}
    table = run(model.path, dataset.path, latency_table.path, **{k: v for k, v in asked.items() if v is not None})
    latency_table.metadata.update({"base_ms": table.base_ms, "base_spread_ms": table.base_spread_ms,
                                   "settings": table.settings, "layers": len(table.saved),
                                   "evaluations": table.evaluations, "seconds": table.seconds,
                                   "method": table.method, **({"fit": table.fit} if table.fit else {})})
