"""The pruning pipeline: ingest -> train -> sensitivity -> visualize -> prune-train -> benchmark -> report.

Compile with `slimpipe compile --out pipelines/prune_pipeline.yaml`; run locally with `slimpipe run`.
"""
import os

from kfp import dsl, kubernetes

from slimpipe import defaults
from slimpipe.components.benchmark.component import benchmark, benchmark_gpu
from slimpipe.components.ingest.component import ingest
from slimpipe.components.latency_table.component import latency_table
from slimpipe.components.merge_sensitivities.component import merge_sensitivities
from slimpipe.components.prune_train.component import prune_train
from slimpipe.components.publish.component import publish
from slimpipe.components.record_failure.component import record_failure
from slimpipe.components.report.component import report
from slimpipe.components.sensitivity.component import sensitivity
from slimpipe.components.shard_plan.component import shard_plan
from slimpipe.components.sweep_plan.component import sweep_plan
from slimpipe.components.sweep_select.component import sweep_select
from slimpipe.components.target_plan.component import target_plan
from slimpipe.components.train.component import train
from slimpipe.components.visualize.component import visualize

# Retries at the pipeline level only where a retry can succeed: the sensitivity analysis, long and resumable
# from its checkpoint, when its pod is preempted or evicted. Network faults and 5xx answers are retried by
# slimpipe.storage itself inside the step (SLIMPIPE_S3_ATTEMPTS); every other failure of ingest or publish is
# deterministic (bad data, a missing bucket, a run id already published) and a retry would only delay it.
# `slimpipe run` drops every retry policy: on one machine there is no pod to preempt.
RETRY = {"num_retries": 3, "backoff_duration": "30s", "backoff_factor": 2.0, "backoff_max_duration": "900s"}
# Object-store credentials: keys of Kubeflow's own artifact-store secret, mapped to the variables
# slimpipe.storage reads. The endpoint is not secret; override it at compile time if yours differs.
STORE_ENV = {"accesskey": "MINIO_ACCESS_KEY", "secretkey": "MINIO_SECRET_KEY"}
STORE_ENDPOINT = os.environ.get("SLIMPIPE_MINIO_ENDPOINT", "minio-service.kubeflow:9000")
# What publish and the exit task know of the run: its run id is `<name>-<job id>` (the name readable, the job id
# the run's UUID, unique), and its creation time orders runs for latest.json.
RUN_IDENTITY = {"run_name": dsl.PIPELINE_JOB_NAME_PLACEHOLDER, "job_id": dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                "created": dsl.PIPELINE_JOB_CREATE_TIME_UTC_PLACEHOLDER}


def _resources(task: dsl.PipelineTask, cpu: str, memory: str) -> dsl.PipelineTask:
    return task.set_cpu_request(cpu).set_memory_request(memory).set_memory_limit(memory)


def _store_access(task: dsl.PipelineTask, secret: str) -> dsl.PipelineTask:
    """Give a step the object-store credentials from a Kubernetes secret (ignored by the local runner,
    where the environment already holds them)."""
    kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env=STORE_ENV, optional=True)
    return task.set_env_variable("SLIMPIPE_DEFAULT_MINIO_ENDPOINT", STORE_ENDPOINT)


def _finish(outputs: dict, publish_to: str, max_drop_points: float, secret: str, gpu: dict | None = None) -> None:
    """Report, then publish when a destination is given."""
    summary = report(base=outputs["base"], pruned=outputs["pruned"],
                     **({"gpu_base": gpu["base"], "gpu_pruned": gpu["pruned"]} if gpu else {}))
    _resources(summary, "500m", "1Gi")
    with dsl.If(publish_to != "", name="publish-requested"):
        up = publish(publish_to=publish_to, **RUN_IDENTITY,
                     pruned_model=outputs["pruned_model"], sensitivities=outputs["sensitivities"],
                     plots=outputs["plots"], base_result=outputs["base"], pruned_result=outputs["pruned"],
                     report=summary.outputs["report"], max_drop_points=max_drop_points)
        up.set_caching_options(False)
        _resources(_store_access(up, secret), "1", "1Gi")


@dsl.pipeline(name="slimpipe-prune", description="Sensitivity-based channel pruning of a PaddlePaddle model")
def prune_pipeline(
    dataset: str,
    task: str = defaults.TASK,
    arch: str = "",
    arch_options: str = "",
    input_size: int = 0,
    epochs: int = defaults.PIPELINE_EPOCHS,
    prune_epochs: int = defaults.PIPELINE_PRUNE_EPOCHS,
    batch_size: int = defaults.BATCH_SIZE,
    eval_metric_loss: float = defaults.EVAL_METRIC_LOSS,
    pruned_flops: float = 0.0,
    target_speedup: float = 0.0,
    target_latency_ms: float = 0.0,
    max_layer_loss: float = 0.0,
    latency_plan: str = "",
    criterion: str = defaults.CRITERION,
    ratios: str = defaults.SENSITIVITY_RATIOS,
    align: int = -1,
    benchmark_threads: int = defaults.BENCHMARK_THREADS,
    benchmark_warmup: int = defaults.BENCHMARK_WARMUP,
    benchmark_repeats: int = defaults.BENCHMARK_REPEATS,
    gpu_benchmark: bool = False,
    gpu_precision: str = defaults.TRT_PRECISION,
    gpu_node_selector: dict = defaults.GPU_NODE_SELECTOR,
    gpu_tolerations: list = defaults.GPU_TOLERATIONS,
    publish_to: str = "",
    max_drop_points: float = defaults.MAX_DROP_POINTS,
    sensitivity_checkpoint: str = "",
    sensitivity_shards: int = defaults.SENSITIVITY_SHARDS,
    sensitivity_stop_loss: float = 0.0,
    sensitivity_subset: int = 0,
    sensitivity_workers: int = defaults.SENSITIVITY_WORKERS,
    sweep_losses: str = "",
    sweep_speedups: str = "",
    object_store_secret: str = defaults.OBJECT_STORE_SECRET,
):
    """Train, analyse, prune, benchmark, report and publish one model. The task's default architectures are
    mobilenetv2, unet and yolov3_mobilenet_v1. A sweep prunes and benchmarks at each value in parallel and
    reports and publishes the fastest model that passes the quality gate; a latency target (or a sweep of them)
    has a latency table measured beside the sensitivities, on the benchmark's CPU settings. Each parameter's
    help (which `slimpipe run --help` shows too):

    Args:
        dataset: dataset folder or object-store URI (s3://bucket/prefix).
        task: classification, segmentation or detection.
        arch: architecture (empty = the task's default).
        arch_options: architecture options, e.g. scale=0.35 (empty = the reference settings).
        input_size: model input size, square (0 = the architecture's default).
        epochs: training epochs.
        prune_epochs: retraining epochs after pruning.
        batch_size: training batch size, for training and retraining after pruning.
        eval_metric_loss: largest relative metric loss per layer (used when pruned_flops is 0).
        pruned_flops: fraction of FLOPs to remove instead of a loss threshold (0 = off).
        target_speedup: prune until the model runs this many times faster on the benchmark's CPU settings, e.g. 2
            (0 = off; measures a latency table).
        target_latency_ms: prune until the model runs within this many ms on the benchmark's CPU settings (0 = off).
        max_layer_loss: with a latency target: largest sensitivity loss any one layer may take (0 = the default).
        latency_plan: with a latency target: knapsack (least summed squared sensitivity loss) or threshold (one
            loss threshold for every layer, the smallest that reaches the target; for detectors); empty = knapsack.
        criterion: channel ranking: l1_norm or fpgm.
        ratios: ratios tried per layer in the sensitivity analysis.
        align: keep channel counts at multiples of K (0 = off; -1 = 8 when gpu_benchmark is on, else off).
        benchmark_threads: CPU threads for the benchmark.
        benchmark_warmup: untimed runs before timing.
        benchmark_repeats: timed runs.
        gpu_benchmark: also benchmark on GPU with TensorRT (asks for nvidia.com/gpu).
        gpu_precision: TensorRT precision: fp32, fp16 or int8.
        gpu_node_selector: node selector of the GPU task, as JSON.
        gpu_tolerations: tolerations of the GPU task, as a JSON list.
        publish_to: where to publish results: s3://bucket/name or a folder (empty = do not publish).
        max_drop_points: quality gate: largest metric drop, in points, that may move latest.json.
        sensitivity_checkpoint: object-store URI or path for the sensitivity checkpoint (empty = none).
        sensitivity_shards: run the sensitivity analysis as N parallel shards, then merge them.
        sensitivity_stop_loss: stop a layer's analysis once its loss reaches this (0 = off).
        sensitivity_subset: measure sensitivities on N val images, seeded and class-balanced (0 = all).
        sensitivity_workers: processes evaluating at once in each sensitivity pod (2 CPUs, 4 GiB), sharing its
            threads.
        sweep_losses: prune at each of these eval_metric_loss values (e.g. 0.02,0.05,0.1) and keep the fastest
            that passes the gate (empty = off).
        sweep_speedups: prune at each of these speed-up targets (e.g. 1.5,2,3) and keep the fastest that passes
            the gate (empty = off).
        object_store_secret: Kubernetes secret with the object-store keys accesskey/secretkey.
    """
    # The exit task runs after every other, whatever their outcome: a failed run leaves
    # <publish_to>/<run id>/failed.json naming the step that failed and why (nothing without publish_to).
    recorded = record_failure(publish_to=publish_to, **RUN_IDENTITY)
    recorded.set_caching_options(False)
    _resources(_store_access(recorded, object_store_secret), "100m", "256Mi")
    with dsl.ExitHandler(recorded, name="steps"):
        # The target is checked first, so that a wrong one fails the run in seconds, not after training.
        targets = target_plan(eval_metric_loss=eval_metric_loss, pruned_flops=pruned_flops,
                              target_speedup=target_speedup, target_latency_ms=target_latency_ms,
                              sweep_losses=sweep_losses, sweep_speedups=sweep_speedups,
                              max_layer_loss=max_layer_loss, latency_plan=latency_plan)
        _resources(targets, "100m", "256Mi")
        data = ingest(dataset_uri=dataset, task=task).set_display_name("ingest")
        data.set_caching_options(False)  # always re-read the source: new data at the same location retrains
        _resources(_store_access(data, object_store_secret), "1", "2Gi")

        trained = train(dataset=data.outputs["dataset"], task=task, arch=arch, arch_options=arch_options,
                        input_size=input_size, epochs=epochs, batch_size=batch_size)
        _resources(trained, "2", "4Gi")

        plan = shard_plan(count=sensitivity_shards)
        _resources(plan, "100m", "256Mi")
        with dsl.ParallelFor(items=plan.output, name="sensitivity-shards") as shard:
            part = sensitivity(model=trained.outputs["model"], dataset=data.outputs["dataset"], criterion=criterion,
                               ratios=ratios, checkpoint=sensitivity_checkpoint, shard=shard,
                               stop_loss=sensitivity_stop_loss, subset=sensitivity_subset,
                               workers=sensitivity_workers)
            part.set_retry(**RETRY)  # resumable: a retried pod continues from its checkpoint
            _resources(_store_access(part, object_store_secret), "2", "4Gi")
        sens = merge_sensitivities(shards=dsl.Collected(part.outputs["sensitivities"]))
        _resources(sens, "500m", "1Gi")

        # Beside the sensitivity analysis: what each layer's pruning saves on the benchmark's CPU settings; only
        # a latency target reads it (without one the step records that nothing was asked for and ends).
        lat = latency_table(model=trained.outputs["model"], dataset=data.outputs["dataset"],
                            threads=benchmark_threads, measure=targets.output)
        _resources(lat, "2", "2Gi")  # both cores for a 1-thread timing: no neighbour in the pod's CPU quota

        vis = visualize(model=trained.outputs["model"], sensitivities=sens.outputs["sensitivities"],
                        latency_table=lat.outputs["latency_table"])
        _resources(vis, "1", "2Gi")

        def cpu_benchmark(model, name: str) -> dsl.PipelineTask:
            bench = benchmark(model=model, dataset=data.outputs["dataset"], device="cpu", mkldnn=False,
                              threads=benchmark_threads, warmup=benchmark_warmup, repeats=benchmark_repeats)
            return _resources(bench.set_display_name(f"benchmark-{name}-cpu"), "2", "2Gi")

        def prune(loss, flops, speedup=0.0, latency_ms=0.0) -> dsl.PipelineTask:
            task_ = prune_train(model=trained.outputs["model"], dataset=data.outputs["dataset"],
                                sensitivities=sens.outputs["sensitivities"], eval_metric_loss=loss,
                                pruned_flops=flops, target_speedup=speedup, target_latency_ms=latency_ms,
                                latency_table=lat.outputs["latency_table"], max_layer_loss=max_layer_loss,
                                latency_plan=latency_plan,
                                align=align, gpu_serving=gpu_benchmark, epochs=prune_epochs, batch_size=batch_size)
            return _resources(task_, "2", "4Gi")

        def sweep(values: dsl.PipelineTask, kind: str) -> None:
            """Prune and benchmark at each swept value in parallel; report and publish the fastest that passes."""
            _resources(values, "100m", "256Mi")
            with dsl.ParallelFor(items=values.output, name=f"sweep-{kind}") as value:
                candidate = prune(value, 0.0) if kind == "losses" else prune(eval_metric_loss, 0.0, speedup=value)
                measured = cpu_benchmark(candidate.outputs["pruned_model"], "candidate")
            pick = sweep_select(base=base.outputs["result"], results=dsl.Collected(measured.outputs["result"]),
                                models=dsl.Collected(candidate.outputs["pruned_model"]),
                                max_drop_points=max_drop_points)
            _resources(pick, "500m", "1Gi")
            _finish(dict(shared, pruned=pick.outputs["result"], pruned_model=pick.outputs["pruned_model"]),
                    publish_to, max_drop_points, object_store_secret)

        base = cpu_benchmark(trained.outputs["model"], "base")
        shared = {"base": base.outputs["result"], "sensitivities": sens.outputs["sensitivities"],
                  "plots": vis.outputs["plots"]}
        with dsl.If(sweep_losses == "", name="no-loss-sweep"):
            with dsl.If(sweep_speedups == "", name="one-target"):
                pruned = prune(eval_metric_loss, pruned_flops, target_speedup, target_latency_ms)
                measured = cpu_benchmark(pruned.outputs["pruned_model"], "pruned")
                outputs = dict(shared, pruned=measured.outputs["result"], pruned_model=pruned.outputs["pruned_model"])
                with dsl.If(gpu_benchmark == True, name="gpu-benchmark"):  # noqa: E712  (a pipeline expression)
                    gpu = {}
                    for name, model in (("base", trained.outputs["model"]),
                                        ("pruned", pruned.outputs["pruned_model"])):
                        bench = benchmark_gpu(model=model, dataset=data.outputs["dataset"], device="gpu", trt=True,
                                              precision=gpu_precision, warmup=benchmark_warmup,
                                              repeats=benchmark_repeats)
                        bench.set_display_name(f"benchmark-{name}-gpu-trt")
                        bench.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
                        kubernetes.add_node_selector_json(bench, gpu_node_selector)
                        kubernetes.add_toleration_json(bench, gpu_tolerations)
                        _resources(bench, "2", "8Gi")
                        gpu[name] = bench.outputs["result"]
                    _finish(outputs, publish_to, max_drop_points, object_store_secret, gpu)
                with dsl.Else(name="cpu-only"):
                    _finish(outputs, publish_to, max_drop_points, object_store_secret)
            with dsl.Else(name="speedup-sweep"):
                sweep(sweep_plan(values=sweep_speedups, speedups=True), "speedups")
        with dsl.Else(name="sweep"):
            sweep(sweep_plan(values=sweep_losses), "losses")
