"""Submitting and scheduling runs on a Kubeflow Pipelines installation with kfp.Client.

A token, where the installation needs one, comes from the KFP_TOKEN environment variable, never a flag.
Scheduled runs disable caching: a retraining run over new data at the same location must train again.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from slimpipe.errors import fail
from slimpipe.progress import log


def check_cron(cron: str) -> str:
    """Kubeflow's cron has six fields, seconds first."""
    fields = cron.split()
    if len(fields) != 6:
        raise fail(f"cron {cron!r} has {len(fields)} fields; Kubeflow Pipelines expects 6, seconds first "
                   f"(e.g. \"0 0 2 * * 0\" for Sundays at 02:00)")
    return cron


def _client(host: str, namespace: str | None):
    import kfp

    return kfp.Client(host=host, namespace=namespace, existing_token=os.environ.get("KFP_TOKEN") or None)


def _package(pipeline, tmp: str) -> str:
    from slimpipe.kfp_pipeline import compile_spec

    return str(compile_spec(pipeline, Path(tmp) / "prune_pipeline.yaml"))


def _experiment_id(client, name: str, namespace: str | None) -> str:
    experiment = client.create_experiment(name=name, namespace=namespace)
    return experiment.experiment_id


def submit(host: str, pipeline, params: dict[str, Any], experiment: str = "slimpipe",
           run_name: str | None = None, namespace: str | None = None, enable_caching: bool = True) -> str:
    """Create one run of `pipeline` (a pipeline function, compiled here); returns its id."""
    client = _client(host, namespace)
    with tempfile.TemporaryDirectory() as tmp:
        result = client.create_run_from_pipeline_package(
            _package(pipeline, tmp), arguments=params,
            run_name=run_name or f"slimpipe-{time.strftime('%Y%m%d-%H%M%S')}",
            experiment_name=experiment, namespace=namespace, enable_caching=enable_caching)
    log("submit", f"run {result.run_id} submitted to {host} (experiment {experiment!r})")
    return result.run_id


def schedule(host: str, pipeline, params: dict[str, Any], cron: str, name: str = "slimpipe-retrain",
             experiment: str = "slimpipe", no_catchup: bool = False, max_concurrency: int = 1,
             namespace: str | None = None) -> str:
    """Create a recurring run of `pipeline` (a pipeline function, compiled here) with caching disabled;
    returns its id."""
    check_cron(cron)
    client = _client(host, namespace)
    with tempfile.TemporaryDirectory() as tmp:
        result = client.create_recurring_run(
            experiment_id=_experiment_id(client, experiment, namespace), job_name=name, cron_expression=cron,
            max_concurrency=max_concurrency, no_catchup=no_catchup,
            pipeline_package_path=_package(pipeline, tmp), params=params, enable_caching=False)
    log("schedule", f"recurring run {result.recurring_run_id} ({cron!r}) created on {host}")
    return result.recurring_run_id
