"""Every default a stage, its component, its subcommand and the pipeline share, written once.

Standard library only (the component files import it, and a component's signature is read when it is
decorated); the stage signatures, `components/<stage>/component.py`, `pipelines/prune_pipeline.py` and the CLI
take their defaults from here, and tests/test_defaults.py checks that they agree. Where the pipeline's default
differs on purpose from the stage's (shorter training for a first run), both are here, the pipeline's named so.
"""

# Data
TASK = "classification"

# Training (train) and retraining after pruning (prune-train): small batches, as on CPU the cost is per image
# and a model trained from scratch needs many updates more than large batches.
BATCH_SIZE = 16
SEED = 0
TRAIN_EPOCHS = 10
TRAIN_LEARNING_RATE = 0.003
PRUNE_EPOCHS = 5
PRUNE_LEARNING_RATE = 0.002

# Pruning target: the largest relative metric loss any layer may take.
EVAL_METRIC_LOSS = 0.05

# Sensitivity analysis
CRITERION = "l1_norm"
SENSITIVITY_RATIOS = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"
SENSITIVITY_THREADS = 2
SENSITIVITY_WORKERS = 1
SENSITIVITY_SHARDS = 1

# Benchmark: CPU with MKLDNN off, one thread, as the source documents measure.
BENCHMARK_DEVICE = "cpu"
BENCHMARK_MKLDNN = False
BENCHMARK_THREADS = 1
BENCHMARK_WARMUP = 10
BENCHMARK_REPEATS = 50
BENCHMARK_BATCH_SIZE = 1
TRT_PRECISION = "fp32"

# Publish and sweep select: the quality gate, the largest metric drop in points that may move latest.json.
MAX_DROP_POINTS = 1.0

# The pipeline: a first run trains for fewer epochs than the stages do (`slimpipe submit --epochs 20` for more).
PIPELINE_EPOCHS = 4
PIPELINE_PRUNE_EPOCHS = 3
GPU_NODE_SELECTOR = {"nvidia.com/gpu.present": "true"}
GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
OBJECT_STORE_SECRET = "mlpipeline-minio-artifact"  # Kubeflow's own artifact-store secret


def ratios(text: str) -> tuple[float, ...]:
    """`"0.1,0.2"` -> (0.1, 0.2): a ratio list as the stages take it (unchecked; the stages check it)."""
    return tuple(float(r) for r in text.split(","))
