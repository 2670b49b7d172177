"""The pruning pipeline: ingest -> train -> sensitivity -> visualize -> prune-train -> benchmark -> report.

Compile with `slimpipe compile --out pipelines/prune_pipeline.yaml`; run locally with `slimpipe run`.
"""
import os

from kfp import dsl, kubernetes

from components.benchmark.component import benchmark, benchmark_gpu
from components.ingest.component import ingest
from components.merge_sensitivities.component import merge_sensitivities
from components.prune_train.component import prune_train
from components.publish.component import publish
from components.report.component import report
from components.sensitivity.component import sensitivity
from components.shard_plan.component import shard_plan
from components.sweep_plan.component import sweep_plan
from components.sweep_select.component import sweep_select
from components.train.component import train
from components.visualize.component import visualize

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
        up = publish(publish_to=publish_to, run_id=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                     pruned_model=outputs["pruned_model"], sensitivities=outputs["sensitivities"],
                     plots=outputs["plots"], base_result=outputs["base"], pruned_result=outputs["pruned"],
                     report=summary.outputs["report"], max_drop_points=max_drop_points)
        up.set_caching_options(False)
        _resources(_store_access(up, secret), "1", "1Gi")


@dsl.pipeline(name="slimpipe-prune", description="Sensitivity-based channel pruning of a PaddlePaddle model")
def prune_pipeline(
    dataset: str,
    task: str = "classification",
    arch: str = "",
    arch_options: str = "",
    input_size: int = 0,
    epochs: int = 4,
    prune_epochs: int = 3,
    batch_size: int = 16,
    eval_metric_loss: float = 0.05,
    pruned_flops: float = 0.0,
    criterion: str = "l1_norm",
    ratios: str = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
    align: int = -1,
    benchmark_threads: int = 1,
    benchmark_warmup: int = 10,
    benchmark_repeats: int = 50,
    gpu_benchmark: bool = False,
    gpu_precision: str = "fp32",
    gpu_node_selector: dict = {"nvidia.com/gpu.present": "true"},
    gpu_tolerations: list = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    publish_to: str = "",
    max_drop_points: float = 1.0,
    sensitivity_checkpoint: str = "",
    sensitivity_shards: int = 1,
    sensitivity_stop_loss: float = 0.0,
    sensitivity_subset: int = 0,
    sweep_losses: str = "",
    object_store_secret: str = "mlpipeline-minio-artifact",
):
    """Empty `arch` is the task's default (mobilenetv2, unet, yolov3_mobilenet_v1), empty `arch_options`
    and `input_size` 0 the architecture's reference settings. `pruned_flops` > 0 replaces
    `eval_metric_loss`; `align` 0 keeps PaddleSlim's widths, -1 aligns to 8 when `gpu_benchmark` is on;
    an empty `publish_to` skips publishing; an empty `sensitivity_checkpoint` keeps the checkpoint in the pod.
    The analysis runs as `sensitivity_shards` parallel pods whose results are merged; a stop loss > 0
    ends a layer early, a subset > 0 measures on that many val images (seeded, class-balanced).
    `sweep_losses` (e.g. "0.02,0.05,0.1") prunes and benchmarks at each value in parallel instead of
    `eval_metric_loss`, and reports and publishes the fastest model that passes the quality gate."""
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
                           stop_loss=sensitivity_stop_loss, subset=sensitivity_subset)
        part.set_retry(**RETRY)  # resumable: a retried pod continues from its checkpoint
        _resources(_store_access(part, object_store_secret), "2", "4Gi")
    sens = merge_sensitivities(shards=dsl.Collected(part.outputs["sensitivities"]))
    _resources(sens, "500m", "1Gi")

    vis = visualize(model=trained.outputs["model"], sensitivities=sens.outputs["sensitivities"])
    _resources(vis, "1", "2Gi")

    def cpu_benchmark(model, name: str) -> dsl.PipelineTask:
        bench = benchmark(model=model, dataset=data.outputs["dataset"], device="cpu", mkldnn=False,
                          threads=benchmark_threads, warmup=benchmark_warmup, repeats=benchmark_repeats)
        return _resources(bench.set_display_name(f"benchmark-{name}-cpu"), "2", "2Gi")

    def prune(loss, flops) -> dsl.PipelineTask:
        task_ = prune_train(model=trained.outputs["model"], dataset=data.outputs["dataset"],
                            sensitivities=sens.outputs["sensitivities"], eval_metric_loss=loss,
                            pruned_flops=flops, align=align, gpu_serving=gpu_benchmark,
                            epochs=prune_epochs, batch_size=batch_size, learning_rate=0.002)
        return _resources(task_, "2", "4Gi")

    base = cpu_benchmark(trained.outputs["model"], "base")
    shared = {"base": base.outputs["result"], "sensitivities": sens.outputs["sensitivities"],
              "plots": vis.outputs["plots"]}
    with dsl.If(sweep_losses == "", name="one-target"):
        pruned = prune(eval_metric_loss, pruned_flops)
        outputs = dict(shared, pruned=cpu_benchmark(pruned.outputs["pruned_model"], "pruned").outputs["result"],
                       pruned_model=pruned.outputs["pruned_model"])
        with dsl.If(gpu_benchmark == True, name="gpu-benchmark"):  # noqa: E712  (a pipeline expression)
            gpu = {}
            for name, model in (("base", trained.outputs["model"]), ("pruned", pruned.outputs["pruned_model"])):
                bench = benchmark_gpu(model=model, dataset=data.outputs["dataset"], device="gpu", trt=True,
                                      precision=gpu_precision, warmup=benchmark_warmup, repeats=benchmark_repeats)
                bench.set_display_name(f"benchmark-{name}-gpu-trt")
                bench.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)
                kubernetes.add_node_selector_json(bench, gpu_node_selector)
                kubernetes.add_toleration_json(bench, gpu_tolerations)
                _resources(bench, "2", "8Gi")
                gpu[name] = bench.outputs["result"]
            _finish(outputs, publish_to, max_drop_points, object_store_secret, gpu)
        with dsl.Else(name="cpu-only"):
            _finish(outputs, publish_to, max_drop_points, object_store_secret)
    with dsl.Else(name="sweep"):
        values = _resources(sweep_plan(values=sweep_losses), "100m", "256Mi")
        with dsl.ParallelFor(items=values.output, name="sweep-values") as loss:
            candidate = prune(loss, 0.0)
            measured = cpu_benchmark(candidate.outputs["pruned_model"], "candidate")
        pick = sweep_select(base=base.outputs["result"], results=dsl.Collected(measured.outputs["result"]),
                            models=dsl.Collected(candidate.outputs["pruned_model"]), max_drop_points=max_drop_points)
        _resources(pick, "500m", "1Gi")
        _finish(dict(shared, pruned=pick.outputs["result"], pruned_model=pick.outputs["pruned_model"]),
                publish_to, max_drop_points, object_store_secret)
