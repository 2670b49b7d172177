"""Sharded, early-stopped and subset sensitivity analyses, and resuming a killed analysis."""
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.pruning import rules
from slimpipe.pruning import sensitivity as sens
from slimpipe.stages.sensitivity import merge_sensitivities, sensitivity
from tests.s3_fixtures import s3  # noqa: F401  (fixture)

RATIOS = [0.3, 0.6]


@pytest.fixture(scope="module")
def shards(tiny_model, tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    paths = [root / f"s{i}.json" for i in range(2)]
    for i, path in enumerate(paths):
        sensitivity(tiny_model, tiny_dataset, path, ratios=RATIOS, shard=(i, 2))
    return paths


def test_merged_shards_equal_the_unsharded_analysis(shards, tiny_sensitivities, tmp_path):
    merged = merge_sensitivities(shards, tmp_path / "merged.json")
    whole = sens.read(tiny_sensitivities)
    assert list(merged["sensitivities"]) == list(whole["sensitivities"])
    for layer, losses in whole["sensitivities"].items():
        for ratio, loss in losses.items():
            assert merged["sensitivities"][layer][ratio] == pytest.approx(loss, abs=1e-6)
    table = sens.read(tmp_path / "merged.json")["table"]
    assert rules.ratios_by_loss(table, 0.05) == pytest.approx(rules.ratios_by_loss(whole["table"], 0.05))
    assert merged["complete"] and merged["shard"] is None and merged["evaluations"] == whole["evaluations"]


def test_a_shard_holds_every_other_layer(shards):
    first, second = (json.loads(p.read_text()) for p in shards)
    every = list(first["all_layers"])
    assert list(first["sensitivities"]) == every[0::2] and list(second["sensitivities"]) == every[1::2]


def _edited(path, tmp_path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    out = tmp_path / f"edited-{path.name}"
    out.write_text(json.dumps(data))
    return out


@pytest.mark.parametrize("change, message", [
    ({"baseline": 0.123}, "differs from"),
    ({"fingerprint": "0" * 16}, "its fingerprint is"),
    ({"metric": "miou"}, "its metric is"),
])
def test_merge_refuses_shards_of_another_analysis(shards, tmp_path, change, message):
    with pytest.raises(SlimpipeError, match=message):
        merge_sensitivities([shards[0], _edited(shards[1], tmp_path, **change)], tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("pick", [[0], [0, 0]])
def test_merge_refuses_a_missing_or_repeated_shard(shards, tmp_path, pick):
    with pytest.raises(SlimpipeError, match=r"need each of 0..1 exactly once"):
        merge_sensitivities([shards[i] for i in pick], tmp_path / "m.json")


def test_a_shard_cannot_be_used_to_prune(shards, tiny_model, tiny_dataset, tmp_path):
    from slimpipe.stages.prune_train import prune_train

    with pytest.raises(SlimpipeError, match=r"this is shard 0/2 of the analysis; join the shards"):
        prune_train(tiny_model, tiny_dataset, shards[0], tmp_path / "p", eval_metric_loss=0.05, epochs=1)


def test_early_stop_skips_ratios_past_the_cap_and_keeps_the_ratios_below_it(tiny_model, tiny_dataset, tmp_path):
    ratios = [0.2, 0.4, 0.6, 0.8]
    full = sensitivity(tiny_model, tiny_dataset, tmp_path / "full.json", ratios=ratios)
    cap = 0.1
    early = sensitivity(tiny_model, tiny_dataset, tmp_path / "early.json", ratios=ratios, stop_loss=cap)
    skipped = sum(len(v) for v in early["capped"].values())
    assert skipped > 0 and early["evaluations"] == full["evaluations"] - skipped
    for layer, keys in early["capped"].items():
        assert all(early["sensitivities"][layer][k] == cap for k in keys)
    full_table, early_table = sens.read(tmp_path / "full.json")["table"], sens.read(tmp_path / "early.json")["table"]
    for threshold in (0.02, 0.05, 0.09):
        full_r, early_r = rules.ratios_by_loss(full_table, threshold), rules.ratios_by_loss(early_table, threshold)
        for layer, losses in full_table.items():
            first_cap = min([r for r, v in losses.items() if v >= cap], default=2.0)
            dips_back = any(r > first_cap and v <= threshold for r, v in losses.items())
            if dips_back:  # a noisy curve: early stop keeps the smaller, safer ratio
                assert early_r.get(layer, 0.0) <= full_r.get(layer, 0.0) + 1e-9
            else:
                assert early_r.get(layer, 0.0) == pytest.approx(full_r.get(layer, 0.0))
    with pytest.raises(SlimpipeError, match=r"early stop at loss 0.1; a threshold of 0.1 needs"):
        sens.check_threshold(early, tmp_path / "early.json", cap)


def test_the_subset_is_fixed_seeded_and_class_balanced():
    from slimpipe.data.subset import balanced_indices

    keys = np.array([0] * 50 + [1] * 30 + [2] * 5)
    chosen = balanced_indices(keys, 21, seed=3)
    assert np.array_equal(chosen, balanced_indices(keys, 21, seed=3))
    assert not np.array_equal(chosen, balanced_indices(keys, 21, seed=4))
    assert np.bincount(keys[chosen]).tolist() == [8, 8, 5]  # the rare class gives all it has


def test_a_subset_analysis_records_its_subset(tiny_model, tiny_dataset, tmp_path):
    data = sensitivity(tiny_model, tiny_dataset, tmp_path / "sub.json", ratios=[0.5], subset=20, seed=1)
    assert data["subset"] == {"images": 20, "seed": 1} and data["complete"]


def test_a_killed_analysis_resumes_from_its_object_store_checkpoint(s3, tiny_model, tiny_dataset, tmp_path,
                                                                     monkeypatch):
    """A pod killed mid-analysis; a new pod (empty disk) continues from the checkpoint in the bucket."""
    from slimpipe import storage

    monkeypatch.setenv("SLIMPIPE_CHECKPOINT_EVERY_S", "0")
    storage.ObjectStore.from_env().ensure_bucket("ckpt")
    uri = "s3://ckpt/killed/sensitivities.json"
    cmd = [sys.executable, "-m", "slimpipe", "sensitivity", "--model", str(tiny_model), "--dataset",
           str(tiny_dataset), "--ratios", "0.2,0.4,0.6", "--checkpoint", uri]
    proc = subprocess.Popen(cmd + ["--out", str(tmp_path / "pod1.json")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    store, deadline, partial = storage.ObjectStore.from_env(), time.time() + 120, None
    while time.time() < deadline and proc.poll() is None:
        if store.exists("ckpt", "killed/sensitivities.json"):
            partial = json.loads(store.get_bytes("ckpt", "killed/sensitivities.json"))
            if partial["evaluations"] >= 4:
                break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert partial and not partial["complete"] and partial["evaluations"] >= 4
    done = subprocess.run(cmd + ["--out", str(tmp_path / "pod2.json")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "resuming from s3://ckpt/killed/sensitivities.json" in done.stderr
    final = json.loads((tmp_path / "pod2.json").read_text())
    assert final["complete"] and final["evaluations"] == 3 * len(final["layers"])
