"""`mlkit faces` through the real Typer app, on tiny galleries of synthetic (and a few real) images."""

import csv
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from mlkit.data import Dataset, save_dataset
from mlkit.faces.index import load_index

from .conftest import SHARED_DATA, needs_shared_data
from .test_faces import smooth_image


@pytest.fixture
def gallery(tmp_path):
    """Four synthetic 'people' in the formats users have: JPEG, grey PNG, RGBA PNG, a large JPEG."""
    folder = tmp_path / "gallery"
    folder.mkdir()
    smooth_image(1).save(folder / "ann.jpg", quality=95)
    smooth_image(2, mode="L").save(folder / "bob.png")
    smooth_image(3, mode="RGBA").save(folder / "cy.png")
    smooth_image(4, size=(2400, 1800)).save(folder / "dee.jpg", quality=95)
    (folder / "readme.txt").write_text("gallery of test faces")
    return folder


def index_gallery(mlkit, gallery, out, *options):
    result = mlkit("faces", "index", gallery, "--out", out, "--workers", "1", "--json", *options)
    assert result.exit_code == 0, result.output
    import json

    return json.loads(result.stdout), result.stderr


def test_index_embeds_every_format_and_skips_non_images(mlkit, gallery, tmp_path):
    report, stderr = index_gallery(mlkit, gallery, tmp_path / "i.h5", "--clusters", "2")
    assert report["images"] == report["faces"] == 4 and report["skipped"] == 1
    assert "warning: skipped" in stderr and "readme.txt is not a readable image" in stderr
    assert report["box_sources"] == {"whole-image": 4}  # no face to detect in blurry noise
    assert sorted(sum((c["files"] for c in report["clusters"]), [])) == ["ann.jpg", "bob.png", "cy.png", "dee.jpg"]
    index = load_index(tmp_path / "i.h5")
    assert index.embeddings.shape == (4, 128) and len(index.centres) == 2 and index.metric == "euclidean"
    assert index.names == ["ann", "bob", "cy", "dee"]
    assert index.boxes[index.files.index("dee.jpg")].tolist() == [0, 0, 2399, 1799]  # in file pixels


def test_match_finds_the_same_image_and_rejects_a_stranger(mlkit, gallery, tmp_path):
    index_gallery(mlkit, gallery, tmp_path / "i.h5", "--clusters", "2")
    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(gallery / "ann.jpg", queries / "again.jpg")
    smooth_image(99).save(queries / "stranger.jpg", quality=95)
    report = mlkit.json("faces", "match", queries, "--index", tmp_path / "i.h5", "--threshold", "0.01", "--workers", "1")
    rows = {row["file"].split("/")[-1]: row for row in report["matches"]}
    assert rows["again.jpg"]["match"] == "ann" and rows["again.jpg"]["distance"] == pytest.approx(0, abs=1e-6)
    assert rows["again.jpg"]["files"] == ["ann.jpg"] and rows["stranger.jpg"]["match"] is None
    assert rows["stranger.jpg"]["distance"] > 0.01 and report["threshold"] == 0.01
    centroid = mlkit.json("faces", "match", queries / "again.jpg", "--index", tmp_path / "i.h5",
                          "--method", "centroid", "--threshold", "10")
    index = load_index(tmp_path / "i.h5")
    cluster = int(index.labels[index.files.index("ann.jpg")])
    assert centroid["matches"][0]["match"] == f"cluster {cluster}"
    assert "ann.jpg" in centroid["matches"][0]["files"]


def test_match_csv_and_table_output(mlkit, gallery, tmp_path):
    index_gallery(mlkit, gallery, tmp_path / "i.h5")
    result = mlkit("faces", "match", gallery / "bob.png", gallery / "readme.txt", "--index", tmp_path / "i.h5", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["file", "match", "distance"] and rows[1] == [str(gallery / "bob.png"), "bob", "0.0000"]
    assert len(rows) == 2 and "readme.txt" in result.stderr
    table = mlkit("faces", "match", gallery / "bob.png", "--index", tmp_path / "i.h5", "--threshold", "0")
    assert table.exit_code == 0 and "Matches (nearest" in table.stdout and "bob" in table.stdout


def test_default_threshold_and_silhouette_choice_are_recorded(mlkit, gallery, tmp_path):
    report, _ = index_gallery(mlkit, gallery, tmp_path / "i.h5")
    assert set(report["silhouettes"]) == {"2", "3"}  # silhouette needs 2 <= K <= faces - 1
    match = mlkit.json("faces", "match", gallery / "ann.jpg", "--index", tmp_path / "i.h5")
    assert match["threshold"] == 0.5 and match["metric"] == "euclidean" and match["embedder"] == "dlib"


def test_update_adds_only_new_images(mlkit, gallery, tmp_path):
    out = tmp_path / "i.h5"
    index_gallery(mlkit, gallery, out, "--clusters", "2")
    before = load_index(out)
    smooth_image(50).save(gallery / "ann.jpg", quality=95)  # changed, but already indexed: kept as it was
    smooth_image(7).save(gallery / "eve.jpg", quality=95)
    (gallery / "bob.png").unlink()
    report, _ = index_gallery(mlkit, gallery, out, "--update", "--clusters", "2")
    assert report["added_images"] == 1 and report["removed_faces"] == 1 and report["faces"] == 4
    after = load_index(out)
    assert sorted(after.files) == ["ann.jpg", "cy.png", "dee.jpg", "eve.jpg"]
    np.testing.assert_array_equal(after.embeddings[after.files.index("ann.jpg")],
                                  before.embeddings[before.files.index("ann.jpg")])


def test_update_needs_a_matching_index(mlkit, gallery, tmp_path):
    missing = mlkit("faces", "index", gallery, "--out", tmp_path / "none.h5", "--update")
    assert missing.exit_code == 1 and missing.stderr == f"Error: {tmp_path / 'none.h5'} does not exist.\n"
    index_gallery(mlkit, gallery, tmp_path / "i.h5")
    other = mlkit("faces", "index", gallery, "--out", tmp_path / "i.h5", "--update", "--embedder", "keras:m.keras")
    assert other.exit_code == 1 and "was made with --embedder dlib" in other.stderr
    cropped = mlkit("faces", "index", gallery, "--out", tmp_path / "i.h5", "--update", "--assume-cropped")
    assert cropped.exit_code == 1 and "was made without --assume-cropped" in cropped.stderr


def test_two_workers_give_the_same_embeddings(mlkit, gallery, tmp_path):
    for seed in range(10, 22):
        smooth_image(seed).save(gallery / f"extra{seed}.jpg", quality=95)
    mlkit("faces", "index", gallery, "--out", tmp_path / "one.h5", "--workers", "1", "-q")
    result = mlkit("faces", "index", gallery, "--out", tmp_path / "two.h5", "--workers", "2", "-q")
    assert result.exit_code == 0, result.output
    one, two = load_index(tmp_path / "one.h5"), load_index(tmp_path / "two.h5")
    assert one.files == two.files and len(one.files) == 16
    np.testing.assert_allclose(one.embeddings, two.embeddings, atol=1e-6)


@pytest.mark.parametrize("make_folder, message", [
    (lambda path: path.mkdir(), "holds no files"),
    (lambda path: (path.mkdir(), (path / "a.jpg").write_text("text")), "no readable images in"),
    (lambda path: path.write_text("a file"), "is not a folder"),
    (lambda path: None, "is not a folder"),
])
def test_bad_galleries_are_one_error_line(mlkit, tmp_path, make_folder, message):
    make_folder(tmp_path / "g")
    result = mlkit("faces", "index", tmp_path / "g", "--out", tmp_path / "i.h5")
    assert result.exit_code == 1 and result.stderr.splitlines()[-1].startswith("Error: ")
    assert message in result.stderr and result.stdout == "" and not (tmp_path / "i.h5").exists()


def test_bad_index_files(mlkit, gallery, tmp_path):
    query = gallery / "ann.jpg"
    missing = mlkit("faces", "match", query, "--index", tmp_path / "none.h5")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF\r\n junk")
    junk = mlkit("faces", "match", query, "--index", tmp_path / "junk.h5")
    assert junk.exit_code == 1 and "is not a readable HDF5 file" in junk.stderr
    images = np.zeros((2, 4, 4), np.uint8)
    save_dataset(Dataset("d", images, np.zeros(2, np.int64), images, np.zeros(2, np.int64), ["a"]), tmp_path / "d.h5")
    dataset = mlkit("faces", "match", query, "--index", tmp_path / "d.h5")
    assert dataset.exit_code == 1 and "is not a face index" in dataset.stderr


def test_bad_queries_and_options(mlkit, gallery, tmp_path):
    index_gallery(mlkit, gallery, tmp_path / "i.h5")
    index = ["--index", tmp_path / "i.h5"]
    text_only = mlkit("faces", "match", gallery / "readme.txt", *index)
    assert text_only.exit_code == 1 and "none of the 1 query files is a readable image" in text_only.stderr
    assert mlkit("faces", "match", tmp_path / "nope.jpg", *index).exit_code == 1
    assert mlkit("faces", "match", gallery / "ann.jpg", *index, "--json", "--csv").exit_code == 2
    assert mlkit("faces", "match", gallery / "ann.jpg", *index, "--method", "mean").exit_code == 2
    assert mlkit("faces", "match", gallery / "ann.jpg", *index, "--threshold", "-1").exit_code == 2
    assert mlkit("faces", "match", gallery / "ann.jpg", *index, "--top-k", "0").exit_code == 2
    assert mlkit("faces", "index", gallery, "--out", tmp_path / "j.h5", "--clusters", "0").exit_code == 2
    too_many = mlkit("faces", "index", gallery, "--out", tmp_path / "j.h5", "--clusters", "9", "--workers", "1")
    assert too_many.exit_code == 1 and "--clusters 9 is more than the 4 distinct faces" in too_many.stderr
    unknown = mlkit("faces", "index", gallery, "--out", tmp_path / "j.h5", "--embedder", "facenet")
    assert unknown.exit_code == 1 and "unknown embedder 'facenet'" in unknown.stderr
    no_model = mlkit("faces", "index", gallery, "--out", tmp_path / "j.h5", "--embedder", "keras:none.keras")
    assert no_model.exit_code == 1 and "none.keras does not exist" in no_model.stderr


def test_keras_embedder_reads_size_and_layout_from_the_model(mlkit, gallery, tmp_path):
    import keras

    inputs = keras.Input((3, 24, 24))  # channels first, like the seed's FaceNet
    outputs = keras.layers.Dense(8)(keras.layers.Flatten()(keras.layers.AveragePooling2D(4, data_format="channels_first")(inputs)))
    keras.Model(inputs, outputs).save(tmp_path / "tiny.keras")
    report, _ = index_gallery(mlkit, gallery, tmp_path / "k.h5", "--embedder", f"keras:{tmp_path / 'tiny.keras'}", "--assume-cropped")
    index = load_index(tmp_path / "k.h5")
    assert index.embeddings.shape == (4, 8) and index.metric == "cosine" and index.threshold == 0.2
    assert report["box_sources"] == {"assumed-cropped": 4}
    match = mlkit.json("faces", "match", gallery / "cy.png", "--index", tmp_path / "k.h5")  # cropped, as the index
    assert match["matches"][0]["match"] == "cy" and match["matches"][0]["distance"] == pytest.approx(0, abs=1e-5)
    assert match["matches"][0]["box_source"] == "assumed-cropped"
    keras.Sequential([keras.Input((10,)), keras.layers.Dense(2)]).save(tmp_path / "flat.keras")
    flat = mlkit("faces", "index", gallery, "--out", tmp_path / "f.h5", "--embedder", f"keras:{tmp_path / 'flat.keras'}")
    assert flat.exit_code == 1 and "a face embedder must take RGB images" in flat.stderr


def test_evaluate_on_a_labelled_folder(mlkit, tmp_path):
    people = tmp_path / "people"
    for person, seed in (("ann", 1), ("bob", 2), ("cy", 3)):
        (people / person).mkdir(parents=True)
        base = smooth_image(seed)
        base.save(people / person / "1.png")
        Image.eval(base, lambda v: min(255, v + 6)).save(people / person / "2.png")  # a little brighter
    report = mlkit.json("faces", "evaluate", people, "--workers", "1")
    assert report["people"] == 3 and report["faces"] == 6 and report["identification_accuracy"] == 1.0
    assert report["suggested"]["open_set_accuracy"] == 1.0 and report["at_threshold"]["threshold"] == 0.5
    table = mlkit("faces", "evaluate", people, "--workers", "1", "--assume-cropped", "--threshold", "0.3")
    assert table.exit_code == 0 and "3 people, 6 faces" in table.stdout and "suggested" in table.stdout
    (people / "loose.jpg").write_bytes((people / "ann" / "1.png").read_bytes())
    loose = mlkit("faces", "evaluate", people)
    assert loose.exit_code == 1 and "one sub-folder of images per person" in loose.stderr


@needs_shared_data
def test_real_faces_happy_house_cameras(mlkit, tmp_path):
    house = SHARED_DATA / "faces" / "happy_house"
    gallery = tmp_path / "known"
    gallery.mkdir()
    for name in ("younes", "bertrand", "benoit", "arnaud", "kian"):
        shutil.copy(house / f"{name}.jpg", gallery)
    index_gallery(mlkit, gallery, tmp_path / "h.h5")
    report = mlkit.json("faces", "match", *(house / f"camera_{i}.jpg" for i in range(3)), "--index", tmp_path / "h.h5")
    assert [row["match"] for row in report["matches"]] == ["younes", "bertrand", "benoit"]
