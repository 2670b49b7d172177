"""Detection: the PaddleX (Pascal VOC) format, VOC mAP, and YOLOv3-MobileNetV1 through the pruning stages."""
import numpy as np
import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.tasks import get_task

TASK = get_task("detection")
TINY_YOLO = {"scale": 0.25, "neck_width": 0.125}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    from slimpipe.data.shapes import write_shapes_sample

    root = tmp_path_factory.mktemp("shapes") / "data"
    write_shapes_sample(root, n_train=12, n_val=4, size=64)
    return root


@pytest.fixture
def shapes_copy(shapes, copy_of):
    return copy_of(shapes)


def load(root, split="train"):
    return TASK.load_split(root, split, (32, 32), TASK.read_classes(root))


def edit_xml(root, pattern, new):
    """Replace the first match of `pattern` in the first annotation."""
    import re

    path = root / "Annotations/0000.xml"
    path.write_text(re.sub(pattern, new, path.read_text(), count=1))


def test_sample_loads_with_boxes_of_known_classes_inside_the_image(shapes):
    split = load(shapes)
    assert split.images.shape == (12, 32, 32, 3) and len(split.targets) == 12
    for t in split.targets:
        assert 1 <= len(t.labels) <= 3 and set(t.labels) <= {0, 1, 2}
        assert (t.boxes[:, :2] >= 0).all() and (t.boxes[:, 2] <= t.width).all() and (t.boxes[:, 3] <= t.height).all()


def test_malformed_xml(shapes_copy):
    edit_xml(shapes_copy, "</annotation>", "</annotatio>")
    with pytest.raises(SlimpipeError, match=r"train_list.txt:1: Annotations/0000.xml: malformed XML \(mismatched tag"):
        load(shapes_copy)


def test_box_outside_the_image(shapes_copy):
    edit_xml(shapes_copy, r"<xmax>\d+</xmax>", "<xmax>90</xmax>")
    with pytest.raises(SlimpipeError, match=r"train_list.txt:1: Annotations/0000.xml: object 1 \(\w+\) box "
                                            r"\[\d+, \d+, 90, \d+\] is empty or lies outside the 64x64 image"):
        load(shapes_copy)


def test_unknown_class_name(shapes_copy):
    edit_xml(shapes_copy, r"<name>\w+</name>", "<name>hexagon</name>")
    with pytest.raises(SlimpipeError, match=r"Annotations/0000.xml: object 1 has class 'hexagon', which is not in "
                                            r"labels.txt \(disc, square, triangle\)"):
        load(shapes_copy)


def test_voc_map_11_point_on_hand_made_detections():
    from slimpipe.tasks.voc_map import voc_map

    truth_boxes = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)]
    truth_labels = [np.array([0, 1])]
    perfect = [np.array([[0, 0.9, 0, 0, 10, 10], [1, 0.8, 20, 20, 30, 30]], np.float32)]
    assert voc_map(perfect, truth_boxes, truth_labels, 2)["map"] == pytest.approx(1.0)
    # class 0: a false positive ranked above the hit -> precision 1/2 at recall 1 -> AP 0.5; class 1 missed -> 0
    noisy = [np.array([[0, 0.9, 50, 50, 60, 60], [0, 0.5, 1, 0, 10, 10]], np.float32)]
    scores = voc_map(noisy, truth_boxes, truth_labels, 2)
    assert scores["class_ap"] == [pytest.approx(0.5), 0.0] and scores["map"] == pytest.approx(0.25)


def test_only_the_neck_is_prunable_unless_the_backbone_is_asked_for():
    from slimpipe.models import build_model
    from slimpipe.pruning.channels import ChannelPruner

    shape = [1, 3, 64, 64]
    neck = ChannelPruner(build_model("yolov3_mobilenet_v1", 3, TINY_YOLO), shape).layers
    assert neck and all(name.startswith("neck.blocks.") for name in neck)
    both = ChannelPruner(build_model("yolov3_mobilenet_v1", 3, TINY_YOLO | {"prune_backbone": "true"}), shape).layers
    assert set(neck) < set(both) and any(name.startswith("backbone.") for name in both)


def test_anchors_option_is_checked():
    from slimpipe.models import build_model

    with pytest.raises(SlimpipeError, match=r"anchors '10x13/16x30': expected nine positive WxH pairs"):
        build_model("yolov3_mobilenet_v1", 3, TINY_YOLO | {"anchors": "10x13/16x30"})


def test_yolov3_trains_prunes_and_exports_with_its_three_inputs(shapes, tmp_path):
    import paddle

    from slimpipe.stages.benchmark import benchmark
    from slimpipe.stages.prune_train import prune_train
    from slimpipe.stages.sensitivity import sensitivity
    from slimpipe.stages.train import train

    info = train(shapes, tmp_path / "m", task="detection", epochs=1, input_size=(64, 64), arch_options=TINY_YOLO)
    assert info.arch == "yolov3_mobilenet_v1" and 0.0 <= info.metrics["map"] <= 1.0
    data = sensitivity(tmp_path / "m", shapes, tmp_path / "s.json", ratios=[0.5])
    assert data["metric"] == "map" and all(name.startswith("neck.") for name in data["sensitivities"])
    assert data["in_place_evaluation"]
    pruned = prune_train(tmp_path / "m", shapes, tmp_path / "s.json", tmp_path / "p", eval_metric_loss=0.9, epochs=1)
    assert pruned.stats["params"] < info.stats["params"]
    program = paddle.jit.load(str(tmp_path / "p/inference/model"))
    boxes, counts = program(paddle.zeros([2, 3, 64, 64]), paddle.to_tensor([[64.0, 64.0]] * 2),
                            paddle.to_tensor([[1.0, 1.0]] * 2))
    assert boxes.shape[1] == 6 and counts.shape == [2]
    result = benchmark(tmp_path / "p", shapes, tmp_path / "b.json", warmup=1, repeats=2)
    assert result.metric == "map" and len(result.metrics["class_ap"]) >= 1


@pytest.mark.slow
def test_the_whole_pipeline_runs_locally_for_detection(shapes, tmp_path):
    from slimpipe.cli import main

    code = main(["run", "--dataset", str(shapes), "--task", "detection", "--arch-options",
                 "scale=0.25,neck_width=0.125", "--input-size", "64", "--epochs", "1", "--prune-epochs", "1",
                 "--ratios", "0.3,0.6", "--benchmark-warmup", "1", "--benchmark-repeats", "3",
                 "--root", str(tmp_path / "runs"), "--out", str(tmp_path / "results")])
    assert code == 0
    report = (tmp_path / "results/report.md").read_text()
    assert "| Model | Parameter file size | Prediction speed | mAP |" in report
    assert "| YOLOv3-MobileNetV1 (pruned by" in report
