"""Issue 14's figures: the classification demo with every step in its image against the same demo in
subprocesses (one after the other in this run), a step's container start, the image's size and what fills it,
and the CPU image's cold and warm build times. Needs a container engine (images/engine.sh)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, run_demo, table

NAME = "containers"
DEPENDS: tuple[str, ...] = ()  # runs its own two demos (work/ct-subprocess, work/ct-container)


def sh(cmd: str, **kwargs) -> subprocess.CompletedProcess:
    """`cmd` in bash with the engine and its settings chosen as the image scripts choose them ($ENGINE)."""
    return subprocess.run(["bash", "-c", f"source images/engine.sh && {cmd}"], check=True, cwd=ROOT, text=True,
                          stdout=subprocess.PIPE, **kwargs)


def run(work: Path) -> list[str]:
    import statistics

    from slimpipe.components._image import CPU_IMAGE

    sh("make -s base-images")
    start = time.perf_counter()
    sh("EXTRA_BUILD_ARGS=--no-cache make -s image-cpu")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    sh("make -s image-cpu")
    warm = time.perf_counter() - start
    env = dict(os.environ, DOCKER_HOST=sh("images/docker-api.sh").stdout.strip())
    engine = sh("echo $ENGINE", env=env).stdout.strip()
    size = int(sh(f"$ENGINE image inspect --format '{{{{.Size}}}}' {CPU_IMAGE}", env=env).stdout.strip())
    largest = sh(f"$ENGINE run --rm --entrypoint sh {CPU_IMAGE} -c 'du -sm /usr/local/lib/python3.11/dist-packages/* "
                 f"| sort -rn | head -n 4'", env=env).stdout.split("\n")
    starts = []
    for _ in range(5):
        t0 = time.perf_counter()
        sh(f"$ENGINE run --rm {CPU_IMAGE} python3 -c pass", env=env)
        starts.append(time.perf_counter() - t0)
    host_py = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        host_py.append(time.perf_counter() - t0)
    sub = run_demo(work / "ct-subprocess", "classification")
    con = run_demo(work / "ct-container", "classification", runner="container", env=env)
    ratio = con["seconds"] / sub["seconds"]
    top = ", ".join(f"{line.split()[1].rsplit('/', 1)[-1]} {line.split()[0]} MB" for line in largest if line.strip())
    rows = [
        ("whole classification demo, every step in its image", f"{con['seconds']:.0f} s", "", None, con["command"]),
        ("the same demo, every step a subprocess", f"{sub['seconds']:.0f} s", "", None, sub["command"]),
        ("container run / subprocess run", f"{ratio:.2f}x", "<= 1.3x", ratio <= 1.3,
         "the two rows above, one after the other in this run"),
        ("a step's container start (python3 -c pass), median of 5",
         f"{statistics.median(starts):.2f} s (host python: {statistics.median(host_py):.2f} s)", "", None,
         f"{engine} run --rm {CPU_IMAGE} python3 -c pass"),
        (f"CPU image size (largest: {top})", f"{size / 1e9:.2f} GB", "<= 1.5 GB", size <= 1.5e9,
         f"{engine} image inspect {CPU_IMAGE}"),
        ("CPU image build, cold (no cache; base image present)", f"{cold:.0f} s", "", None,
         "EXTRA_BUILD_ARGS=--no-cache make image-cpu"),
        ("CPU image build, warm (code unchanged)", f"{warm:.0f} s", "", None, "make image-cpu"),
    ]
    return ["## Containers: the pipeline in its images", "", *table(rows)]
