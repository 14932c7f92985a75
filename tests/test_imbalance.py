"""A folder project on imbalanced real photos (3 classes, 1:5:20 training crops): trained with
balanced class weights and the balanced sampler, test.py reports each class's precision, recall
and support, and the confusion figure shows them."""

import json

import pytest

from tests.conftest import python
from tests.photos import classification_folder

TRAIN, TEST = [8, 40, 160], [5, 12, 30]  # crops per class; the test set is imbalanced too
# train.py, then test.py on its best model, in one process (one start-up)
TRAIN_THEN_TEST = """
import json, sys
from pathlib import Path
import test, train
train.cli(json.loads(sys.argv[1]))
(best,) = Path(json.loads(sys.argv[1])[-1].split("=")[1]).glob("models/*/*/model_best.pth")
test.cli(["-r", str(best), *json.loads(sys.argv[2])])
"""


def test_imbalanced_photos_get_per_class_scores(copie, tmp_path):
    project = copie.copy(extra_answers={"dataset": "folder"}).project_dir
    names = classification_folder(tmp_path / "data", 3, TRAIN, TEST)
    config = json.loads((project / "config.json").read_text())
    arch = config["arch"]["args"]  # before the model followed the data, its classes were set
    shape = {"num_classes": 3, "in_channels": 3} if "num_classes" in arch else {}
    args = [
        f"data_loader.args.data_dir={tmp_path / 'data'}",
        "data_loader.args.channels=3",
        "data_loader.args.mean=[0.5, 0.5, 0.5]",
        "data_loader.args.std=[0.25, 0.25, 0.25]",
        "data_loader.args.image_size=[32, 32]",
        "data_loader.args.num_workers=0",
    ]
    train = [
        "-c",
        "config.json",
        *args,
        *([f"arch.args={json.dumps({**arch, **shape})}"] if shape else []),
        "data_loader.args.batch_size=16",
        "data_loader.args.sampler=balanced",
        "loss.class_weights=balanced",
        "trainer.epochs=2",
        f"trainer.save_dir={tmp_path / 'saved'}",
    ]
    done = python("-c", TRAIN_THEN_TEST, json.dumps(train), json.dumps(args), cwd=project)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run,) = (tmp_path / "saved" / "models").glob("*/*")
    metrics = json.loads((run / "test_metrics.json").read_text())
    per_class = metrics["per_class"]
    assert list(per_class) == names == metrics["class_names"]
    assert [per_class[name]["support"] for name in names] == TEST
    # recall weighted by support is the accuracy: the scores of each class add up exactly
    right = sum(scores["recall"] * scores["support"] for scores in per_class.values())
    assert right / sum(TEST) == pytest.approx(metrics["accuracy"], abs=1e-6)
    for scores in per_class.values():
        assert 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1, scores
    assert (run / "test_confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
