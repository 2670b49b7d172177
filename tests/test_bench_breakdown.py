"""The detector's time breakdown (bench/breakdown.py): where its program is cut into backbone, neck and
heads, and post-processing."""
import pytest

from slimpipe.errors import SlimpipeError


@pytest.fixture(scope="module")
def detector():
    from slimpipe.models.registry import build_model
    from slimpipe.pruning import program_cut
    from slimpipe.pruning.timing import exported_program
    from slimpipe.tasks import get_task

    net = build_model("yolov3_mobilenet_v1", 3, {"scale": 0.25, "neck_width": 0.125})
    net.eval()
    program, _ = exported_program(net, get_task("detection").input_shapes((64, 64)))
    backbone = {t.name for t in list(net.backbone.parameters()) + list(net.backbone.buffers())}
    return program_cut.Program(program), backbone


def reads(program, index):
    from slimpipe.pruning.program_cut import _args

    return _args(program.ops[index].inputs) & program.persistable


def test_the_backbone_front_reads_only_backbone_parameters_and_the_post_processing_none(detector):
    from bench.breakdown import find_cuts

    program, backbone = detector
    cuts = find_cuts(program, backbone)
    start, end = program.body
    assert start < cuts.backbone.index < cuts.post.index < end
    assert all(reads(program, i) <= backbone | {"feed"} for i in range(cuts.backbone.index))
    assert any(reads(program, i) - backbone for i in range(cuts.backbone.index, cuts.post.index))
    assert not any(reads(program, i) for i in range(cuts.post.index, end))
    assert {"yolo_box", "matrix_nms"} <= {program.ops[i].type for i in range(cuts.post.index, end)}


def test_a_program_without_parameters_beyond_the_backbone_is_refused(detector):
    from bench.breakdown import find_cuts

    program, backbone = detector
    with pytest.raises(SlimpipeError, match="reads no parameter of the backbone, or nothing beyond it"):
        find_cuts(program, program.persistable)
