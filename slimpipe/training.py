"""The one training loop, used to train from scratch and to retrain after pruning."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slimpipe import defaults
from slimpipe.errors import fail
from slimpipe.evaluation import dygraph_forward, evaluate
from slimpipe.progress import Progress, log
from slimpipe.tasks import Split, Task


@dataclass
class TrainSettings:
    """Optimiser settings (Adam, linear warm-up then cosine decay). Small batches: on CPU the cost is per image, and MobileNetV2
    from scratch needs many updates more than large batches."""

    epochs: int = defaults.TRAIN_EPOCHS
    batch_size: int = defaults.BATCH_SIZE
    learning_rate: float = defaults.TRAIN_LEARNING_RATE
    weight_decay: float = 1e-5
    seed: int = defaults.SEED
    history: list[dict[str, Any]] = field(default_factory=list)

    def record(self, dataset: Any) -> dict[str, Any]:
        """What a model directory keeps about how it was trained."""
        return {"epochs": self.epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate,
                "seed": self.seed, "history": self.history, "dataset": str(dataset)}


def fit(model, task: Task, train: Split, val: Split, settings: TrainSettings, label: str = "train") -> dict:
    """Train `model` in place; keep and restore the weights of the best validation epoch.

    Returns the best epoch's metrics. Epoch 0 is the model as given, so retraining never makes it worse
    on validation than where it started.
    """
    import paddle

    paddle.seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    steps_per_epoch = max(1, int(np.ceil(len(train) / settings.batch_size)))
    total = steps_per_epoch * max(settings.epochs, 1)
    warmup = min(50, total // 5)
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(settings.learning_rate, T_max=total)
    if warmup:
        schedule = paddle.optimizer.lr.LinearWarmup(schedule, warmup, 0.0, settings.learning_rate)
    optimizer = paddle.optimizer.Adam(schedule, parameters=model.parameters(),
                                      weight_decay=paddle.regularizer.L2Decay(settings.weight_decay))
    best = evaluate(dygraph_forward(model), task, val)
    best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    best["epoch"] = 0
    log(label, f"epoch 0/{settings.epochs}: val {task.metric_name} {best[task.metric_name]:.4f}")
    for epoch in range(1, settings.epochs + 1):
        loss = _one_epoch(model, task, train, settings, rng, optimizer, schedule, label, epoch)
        metrics = evaluate(dygraph_forward(model), task, val)
        settings.history.append({"epoch": epoch, "loss": loss, task.metric_name: metrics[task.metric_name]})
        marker = ""
        if metrics[task.metric_name] > best[task.metric_name]:
            best = dict(metrics, epoch=epoch)
            best_state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
            marker = " (best)"
        log(label, f"epoch {epoch}/{settings.epochs}: loss {loss:.4f}, "
                   f"val {task.metric_name} {metrics[task.metric_name]:.4f}{marker}")
    model.set_state_dict(best_state)
    model.eval()
    return best


def _one_epoch(model, task, train, settings, rng, optimizer, schedule, label, epoch) -> float:
    import paddle

    model.train()
    order = rng.permutation(len(train))
    batches = [order[i:i + settings.batch_size] for i in range(0, len(order), settings.batch_size)]
    progress = Progress(f"{label} {epoch}/{settings.epochs}", len(batches), every=5.0)
    losses = []
    for step, index in enumerate(batches, 1):
        batch = task.augment(train.subset(index), rng)
        outputs = model(*[paddle.to_tensor(f) for f in task.feeds(batch, np.arange(len(batch)))])
        loss = task.loss(outputs, batch)
        if not np.isfinite(float(loss)):
            raise fail(f"{label}: the training loss became {float(loss)} at epoch {epoch}, step {step} of "
                       f"{len(batches)} (learning rate {settings.learning_rate}); training stopped and nothing "
                       f"was written. Try a lower --learning-rate.")
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        schedule.step()
        losses.append(float(loss))
        progress.update(extra=f"loss {losses[-1]:.4f}")
    model.eval()
    return float(np.mean(losses))
