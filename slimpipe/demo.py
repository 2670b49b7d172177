"""`make demo`: the whole pipeline on the bundled sample through Kubeflow Pipelines' local runner, with
the dataset read from and the results published to an object store.

With MINIO_ENDPOINT (and credentials) set, that is your MinIO; otherwise an embedded S3-protocol server on
127.0.0.1 runs for the length of the demo. The pipeline's defaults are sized to take a few minutes on
2 CPU cores: MobileNetV2 at width 0.35 and 64x64 input, 4 epochs, 9 ratios per layer, 3 retraining epochs.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from slimpipe.progress import log


def upload_dataset(local: Path, uri: str) -> None:
    """Put the sample in the bucket (created if missing), as a user's dataset would already be."""
    from slimpipe import storage

    store = storage.ObjectStore.from_env()
    loc = storage.parse_uri(uri)
    store.ensure_bucket(loc.bucket)
    keys = storage.upload_tree(store, local, loc)
    log("demo", f"uploaded {len(keys)} dataset files to {uri}")


def main(argv: list[str] | None = None) -> None:
    from slimpipe import storage
    from slimpipe.cli import main as cli
    from slimpipe.local_s3 import object_store

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", default="classification", choices=("classification",),
                        help="the bundled demo covers classification; segmentation and detection come next")
    parser.add_argument("--out", default="demo-out", help="local folder for the run's files")
    parser.add_argument("--bucket", default="slimpipe-demo", help="bucket for the dataset and the results")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out).resolve()
    dataset = out / "dataset"
    if not (dataset / "labels.txt").exists():
        cli(["sample", "--task", args.task, "--out", str(dataset)])
    dataset_uri = f"s3://{args.bucket}/datasets/{args.task}-sample"
    publish_uri = f"s3://{args.bucket}/models/{args.task}-sample"
    with object_store():
        upload_dataset(dataset, dataset_uri)
        code = cli(["run", "--dataset", dataset_uri, "--task", args.task, "--publish-to", publish_uri,
                    "--root", str(out / "runs"), "--out", str(out / "results")])
        if code == 0:
            loc = storage.parse_uri(publish_uri)
            store = storage.ObjectStore.from_env()
            if store.exists(loc.bucket, loc.key("latest.json")):
                pointer = json.loads(store.get_bytes(loc.bucket, loc.key("latest.json")))
                log("demo", f"published {len(pointer['objects'])} objects to {pointer['location']}; "
                            f"pointer {publish_uri}/latest.json -> run {pointer['run_id']}")
            else:
                log("demo", f"the quality gate rejected this run: {publish_uri}/latest.json not written")
    log("demo", f"done in {time.perf_counter() - start:.0f}s; local copies of the results under {out / 'results'}")
    raise SystemExit(code)


if __name__ == "__main__":
    main()
