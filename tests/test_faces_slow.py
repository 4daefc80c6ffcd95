"""Issue 8's targets on the real faces in ../shared/data/faces (make test-slow; about 30 s)."""

import shutil

import pytest

from .conftest import SHARED_DATA, needs_shared_data

A5 = SHARED_DATA / "faces" / "csc420_a5"
HOUSE = SHARED_DATA / "faces" / "happy_house"
pytestmark = [pytest.mark.slow, needs_shared_data]


@pytest.mark.parametrize("cropped", [[], ["--assume-cropped"]], ids=["detect", "assume-cropped"])
def test_seed_gallery_answers_six_known_queries_and_rejects_the_stranger(mlkit, tmp_path, cropped):
    report = mlkit.json("faces", "index", A5 / "saved_faces", "--out", tmp_path / "g.h5", "--clusters", "6", *cropped)
    assert report["metrics"]["faces"] == 200 and report["metrics"]["clusters"] == len(report["clusters"]) == 6
    for method in ("centroid", "nearest"):
        matches = mlkit.json("faces", "match", A5 / "input_faces", "--index", tmp_path / "g.h5", "--method", method)
        answers = {row["file"].split("/")[-1]: row["match"] for row in matches["matches"]}
        assert len(answers) == 7 and answers.pop("face_image_600.jpg") is None
        assert all(answer is not None for answer in answers.values()), answers


def test_happy_house_cameras_are_identified(mlkit, tmp_path):
    gallery = tmp_path / "named"
    gallery.mkdir()
    for image in HOUSE.iterdir():
        if not image.name.startswith("camera_"):
            shutil.copy(image, gallery)
    mlkit.json("faces", "index", gallery, "--out", tmp_path / "h.h5")
    report = mlkit.json("faces", "match", *(HOUSE / f"camera_{i}.jpg" for i in range(3)), "--index", tmp_path / "h.h5")
    assert [row["match"] for row in report["matches"]] == ["younes", "bertrand", "benoit"]
