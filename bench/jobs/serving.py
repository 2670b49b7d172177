"""Serving latency (issue 16): the base and the pruned model each behind `slimpipe serve` (kserve's ModelServer,
Paddle Inference, MKLDNN on), loaded by a few concurrent clients on loopback; both servers run for the whole
measurement and take their load in alternating rounds, so machine noise hits both alike."""
from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import demo_dir, table

NAME = "serving"
DEPENDS = ("classification",)  # the demo's trained and pruned models and its sample


def run(work: Path) -> list[str]:
    """`slimpipe serve` (Open Inference Protocol v2) for the classification demo's base and pruned model under a
    small concurrent load from a loopback client, both servers measured in one run."""
    demo = demo_dir(work, "classification")
    return ["## Serving: slimpipe serve, Open Inference Protocol v2 (issue 16)", "",
            *serving_latency(demo / "results/model", demo / "results/pruned", demo / "classification-sample"), ""]


def serving_latency(base_model: Path, pruned_model: Path, dataset: Path, clients: int = 4, requests: int = 50,
                    rounds: int = 5, warmup: int = 10, threads: int = 1, parallel: int = 1) -> list[str]:
    """The markdown table `| figure | measured | target | met | command |`: p50 and p90 latency
    of POST /v2/models/NAME/infer for base and pruned, their ratio and the requests per second, from
    `clients` client threads sending `requests` requests each per model (batch 1: one val image per
    request, JSON), split over `rounds` rounds that alternate which model goes first."""
    from slimpipe import modeldir
    from slimpipe.local_s3 import free_port
    from slimpipe.serving.client import ServerProcess, infer_body
    from slimpipe.stages.common import load_split_for
    from slimpipe.tasks import get_task

    info = modeldir.read_info(base_model)
    task = get_task(info.task)
    val = load_split_for(info, dataset, "val")
    names = list(task.input_shapes(info.input_size))
    bodies = [infer_body(dict(zip(names, task.feeds(val, np.arange(i, i + 1))))) for i in range(len(val))]
    per_round = max(1, requests // rounds)
    extra = ["--threads", str(threads), "--parallel", str(parallel)]
    latencies: dict[str, list[float]] = {"base": [], "pruned": []}
    busy: dict[str, float] = {"base": 0.0, "pruned": 0.0}
    with tempfile.TemporaryDirectory(prefix="slimpipe-bench-serving-") as logs:
        servers = {name: ServerProcess(model, name, free_port(), Path(logs) / f"{name}.log", extra)
                   for name, model in (("base", base_model), ("pruned", pruned_model))}
        try:
            for server in servers.values():
                server.start()
            for name, server in servers.items():
                _load(server, bodies, clients, max(1, warmup // clients))
            for r in range(rounds):
                for name in (("base", "pruned") if r % 2 == 0 else ("pruned", "base")):
                    start = time.perf_counter()
                    latencies[name] += _load(servers[name], bodies, clients, per_round)
                    busy[name] += time.perf_counter() - start
        finally:
            for server in servers.values():
                server.stop()
    p = {name: (float(np.percentile(v, 50)), float(np.percentile(v, 90))) for name, v in latencies.items()}
    rate = {name: len(latencies[name]) / busy[name] for name in latencies}
    cmd = (f"python -m bench.run (serving_latency: slimpipe serve --threads {threads} --parallel {parallel}, MKLDNN on; "
           f"{clients} client threads x {per_round * rounds} requests per model in {rounds} alternating rounds, "
           f"batch 1, JSON on loopback)")
    rows = [
        ("Serving /infer latency p50, base -> pruned", f"{p['base'][0]:.2f} ms -> {p['pruned'][0]:.2f} ms", "-", None,
         cmd),
        ("Serving /infer latency p90, base -> pruned", f"{p['base'][1]:.2f} ms -> {p['pruned'][1]:.2f} ms", "-", None,
         cmd),
        ("Serving p50 speed-up, same run", f"{p['base'][0] / p['pruned'][0]:.2f}x", "-", None, cmd),
        ("Serving throughput, base -> pruned", f"{rate['base']:.0f} -> {rate['pruned']:.0f} requests/s", "-", None,
         cmd),
    ]
    return table(rows)


def _load(server, bodies: list[bytes], clients: int, each: int) -> list[float]:
    """`clients` threads, each on its own keep-alive connection sending `each` requests; milliseconds per
    request (send to last byte read). Any answer other than 200 stops the bench, with the server's log."""
    from slimpipe.errors import fail
    from slimpipe.serving.client import Connection

    path = f"/v2/models/{server.name}/infer"
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        conn = Connection(server.port)
        mine = []
        try:
            for i in range(each):
                body = bodies[(k * each + i) % len(bodies)]
                start = time.perf_counter()
                status, response = conn.request("POST", path, body)
                mine.append((time.perf_counter() - start) * 1000.0)
                if status != 200:
                    errors.append(f"{status}: {str(response)[:300]}")
                    return
        except OSError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
            with lock:
                times.extend(mine)

    workers = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise fail(f"serving bench: {server.name} answered {errors[0]}; server log: {server.log_tail()}")
    return times
