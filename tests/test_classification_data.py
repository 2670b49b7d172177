"""The PaddleX classification format: every bad input names the file and line and stops."""
import numpy as np
import pytest

from slimpipe.errors import SlimpipeError
from slimpipe.tasks import get_task

TASK = get_task("classification")


def load(root, split="train"):
    return TASK.load_split(root, split, (32, 32), TASK.read_classes(root))


def first_line(root, name="train_list.txt"):
    return (root / name).read_text().splitlines()[0]


def replace_first_line(root, new, name="train_list.txt"):
    lines = (root / name).read_text().splitlines()
    lines[0] = new
    (root / name).write_text("\n".join(lines) + "\n")


def test_sample_loads_with_images_resized_and_labels_in_range(tiny_dataset):
    split = load(tiny_dataset)
    assert split.images.shape == (200, 32, 32, 3)
    assert split.images.dtype == np.uint8
    assert set(split.targets.tolist()) == set(range(10))


def test_sample_is_real_digit_data_not_noise(digits_full):
    split = load(digits_full, "val")
    # a per-class mean image is far more alike within a class than across classes
    means = np.stack([split.images[split.targets == c].mean(axis=0) for c in range(10)]).reshape(10, -1)
    within = np.abs(split.images[split.targets == 3].reshape(-1, means.shape[1]) - means[3]).mean()
    across = np.abs(split.images[split.targets == 3].reshape(-1, means.shape[1]) - means[0]).mean()
    assert within < across


def test_missing_labels_file(dataset_copy):
    (dataset_copy / "labels.txt").unlink()
    with pytest.raises(SlimpipeError, match="labels.txt: labels file not found"):
        TASK.read_classes(dataset_copy)


def test_missing_list_file(dataset_copy):
    (dataset_copy / "val_list.txt").unlink()
    with pytest.raises(SlimpipeError, match="val_list.txt: list file not found"):
        load(dataset_copy, "val")


def test_missing_image_names_file_and_line(dataset_copy):
    replace_first_line(dataset_copy, "images/0/nope.png 0")
    with pytest.raises(SlimpipeError, match=r"train_list.txt:1: file not found: images/0/nope.png"):
        load(dataset_copy)


def test_undecodable_image_names_file_and_line(dataset_copy):
    rel = first_line(dataset_copy).split()[0]
    (dataset_copy / rel).write_bytes(b"not an image")
    with pytest.raises(SlimpipeError, match=r"train_list.txt:1: cannot decode image"):
        load(dataset_copy)


def test_class_index_out_of_range(dataset_copy):
    rel = first_line(dataset_copy).split()[0]
    replace_first_line(dataset_copy, f"{rel} 10")
    with pytest.raises(SlimpipeError, match=r"train_list.txt:1: class index 10 out of range"):
        load(dataset_copy)


def test_class_index_not_an_integer(dataset_copy):
    rel = first_line(dataset_copy).split()[0]
    replace_first_line(dataset_copy, f"{rel} three")
    with pytest.raises(SlimpipeError, match=r"train_list.txt:1: class index 'three' is not an integer"):
        load(dataset_copy)


def test_wrong_number_of_fields(dataset_copy):
    replace_first_line(dataset_copy, "just_one_field")
    with pytest.raises(SlimpipeError, match=r"train_list.txt:1: expected 2 fields, got 1"):
        load(dataset_copy)


def test_empty_split(dataset_copy):
    (dataset_copy / "val_list.txt").write_text("\n")
    with pytest.raises(SlimpipeError, match="val_list.txt: the val split is empty"):
        load(dataset_copy, "val")


def test_path_escaping_the_dataset_folder(dataset_copy):
    replace_first_line(dataset_copy, "../outside.png 0")
    with pytest.raises(SlimpipeError, match="points outside the dataset folder"):
        load(dataset_copy)


def test_png_decodes_after_paddle_is_imported(tiny_dataset, tmp_path):
    """Regression: paddle's zlib symbols broke Pillow's PNG decoder when paddle loaded first."""
    import subprocess
    import sys

    code = ("import slimpipe, paddle\nfrom PIL import Image\n"
            f"Image.open({str(tiny_dataset / first_line(tiny_dataset).split()[0])!r}).load()\nprint('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-500:]
