"""`mlkit faces` through the real Typer app, on tiny galleries of synthetic (and a few real) images."""

import csv
import io
import json
import os
import shutil
import stat

import numpy as np
import pytest
from PIL import Image

from mlkit.data import Dataset, load_arrays, save_arrays, save_dataset
from mlkit.experiments.faces import EVALUATE_METRICS, INDEX_METRICS, MATCH_METRICS
from mlkit.faces.gallery import folder_fingerprint
from mlkit.faces.images import find_images
from mlkit.faces.index import load_index

from .conftest import SHARED_DATA, Invoker, needs_shared_data, validate_envelope
from .test_faces import png_declaring, smooth_image


def make_gallery(folder):
    """Four synthetic 'people' in the formats users have: JPEG, grey PNG, RGBA PNG, a large JPEG."""
    folder.mkdir()
    smooth_image(1).save(folder / "ann.jpg", quality=95)
    smooth_image(2, mode="L").save(folder / "bob.png")
    smooth_image(3, mode="RGBA").save(folder / "cy.png")
    smooth_image(4, size=(2400, 1800)).save(folder / "dee.jpg", quality=95)
    (folder / "readme.txt").write_text("gallery of test faces")
    return folder


@pytest.fixture
def gallery(tmp_path):
    return make_gallery(tmp_path / "gallery")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A gallery and its index (K=2), made once for the tests that only read them."""
    folder = tmp_path_factory.mktemp("indexed")
    result = Invoker()("faces", "index", make_gallery(folder / "gallery"), "--out", folder / "i.h5",
                       "--clusters", "2", "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    return folder / "gallery", folder / "i.h5"


def index_gallery(mlkit, gallery, out, *options):
    result = mlkit("faces", "index", gallery, "--out", out, "--workers", "1", "--json", *options)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def one_error_line(result, code: int, message: str) -> None:
    """The exit code, and exactly one `Error:` line on stderr saying `message`, no traceback."""
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output and isinstance(result.exception, (SystemExit, type(None)))


def test_index_record_embeds_every_format_and_skips_non_images(mlkit, gallery, tmp_path):
    report = mlkit.json("faces", "index", gallery, "--out", tmp_path / "i.h5", "--workers", "1", "--clusters", "2",
                        "--seed", "3")
    assert report["command"] == "faces index" and report["seed"] == 3 and report["versions"]["dlib"]
    metrics = report["metrics"]
    assert tuple(metrics) == INDEX_METRICS
    assert metrics["images"] == metrics["faces"] == metrics["added_images"] == 4 and metrics["skipped"] == 1
    assert metrics["clusters"] == 2 and metrics["silhouette"] is None and metrics["seconds"] > 0
    assert metrics["images_per_second"] == pytest.approx(4 / metrics["seconds"])
    assert metrics["wall_seconds"] >= metrics["seconds"]
    assert report["config"]["clusters"] == 2 and report["config"]["cluster_choice"] == "given"
    assert report["config"]["embedder"] == "dlib" and report["config"]["assume_cropped"] is False
    assert report["files"] == [{"path": str(tmp_path / "i.h5"), "kind": "index"}]
    assert report["data"]["source"] == str(gallery.resolve()) and report["data"]["files"] == 5
    assert report["data"]["fingerprint"] == folder_fingerprint(find_images([gallery.resolve()]), gallery.resolve())
    assert report["box_sources"] == {"whole-image": 4}  # no face to detect in blurry noise
    assert sorted(sum((c["files"] for c in report["clusters"]), [])) == ["ann.jpg", "bob.png", "cy.png", "dee.jpg"]
    index = load_index(tmp_path / "i.h5")
    assert index.embeddings.shape == (4, 128) and len(index.centres) == 2 and index.metric == "euclidean"
    assert index.names == ["ann", "bob", "cy", "dee"]
    assert index.boxes[index.files.index("dee.jpg")].tolist() == [0, 0, 2399, 1799]  # in file pixels


def test_match_finds_the_same_image_and_rejects_a_stranger(mlkit, indexed, tmp_path):
    gallery, index_file = indexed
    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(gallery / "ann.jpg", queries / "again.jpg")
    smooth_image(99).save(queries / "stranger.jpg", quality=95)
    report = mlkit.json("faces", "match", queries, "--index", index_file, "--threshold", "0.01", "--workers", "1")
    rows = {row["file"].split("/")[-1]: row for row in report["matches"]}
    assert rows["again.jpg"]["match"] == "ann" and rows["again.jpg"]["distance"] == pytest.approx(0, abs=1e-6)
    assert rows["again.jpg"]["files"] == ["ann.jpg"] and rows["stranger.jpg"]["match"] is None
    assert rows["stranger.jpg"]["distance"] > 0.01 and report["config"]["threshold"] == 0.01
    assert report["command"] == "faces match" and "seed" not in report and report["files"] == []
    assert tuple(report["metrics"]) == MATCH_METRICS
    assert {key: report["metrics"][key] for key in ("queries", "faces", "matched", "unmatched", "skipped")} == {
        "queries": 2, "faces": 2, "matched": 1, "unmatched": 1, "skipped": 0}
    assert report["data"]["source"] == str(index_file) and report["data"]["faces"] == 4
    centroid = mlkit.json("faces", "match", queries / "again.jpg", "--index", index_file,
                          "--method", "centroid", "--threshold", "10")
    index = load_index(index_file)
    cluster = int(index.labels[index.files.index("ann.jpg")])
    assert centroid["matches"][0]["match"] == f"cluster {cluster}"
    assert "ann.jpg" in centroid["matches"][0]["files"] and centroid["config"]["top_k"] is None
    assert centroid["data"]["fingerprint"] == report["data"]["fingerprint"]


def test_match_csv_and_a_table_that_fits_80_columns(mlkit, indexed, tmp_path):
    gallery, index_file = indexed
    result = mlkit("faces", "match", gallery / "bob.png", gallery / "readme.txt", "--index", index_file, "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["file", "match", "distance"] and rows[1] == [str(gallery / "bob.png"), "bob", "0.0000"]
    assert len(rows) == 2 and "readme.txt" in result.stderr
    queries = tmp_path / "input_faces"
    queries.mkdir()
    for number in (600, 601, 602):  # the names the seed's queries have
        shutil.copy(gallery / "bob.png", queries / f"face_image_{number}.png")
    table = mlkit("faces", "match", queries, "--index", index_file, "--top-k", "4", "--threshold", "10")
    assert table.exit_code == 0 and "Matches (nearest" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    assert all(f"face_image_{number}.png" in table.stdout for number in (600, 601, 602))


def test_default_threshold_and_silhouette_choice_are_recorded(mlkit, gallery, tmp_path):
    report, _ = index_gallery(mlkit, gallery, tmp_path / "i.h5")
    assert set(report["silhouettes"]) == {"2", "3"}  # silhouette needs 2 <= K <= faces - 1
    assert report["config"]["cluster_choice"] == "silhouette" and report["config"]["max_clusters"] == 10
    assert report["metrics"]["silhouette"] == max(report["silhouettes"].values())
    match = mlkit.json("faces", "match", gallery / "ann.jpg", "--index", tmp_path / "i.h5")
    assert match["config"]["threshold"] == 0.5 and match["data"]["metric"] == "euclidean"
    assert match["data"]["embedder"] == "dlib"


def test_update_adds_only_new_images_and_keeps_the_index_private(mlkit, gallery, tmp_path):
    out = tmp_path / "i.h5"
    index_gallery(mlkit, gallery, out, "--clusters", "2")
    out.chmod(0o600)
    before = load_index(out)
    smooth_image(50).save(gallery / "ann.jpg", quality=95)  # changed, but already indexed: kept as it was
    smooth_image(7).save(gallery / "eve.jpg", quality=95)
    (gallery / "bob.png").unlink()
    report, _ = index_gallery(mlkit, gallery, out, "--update", "--clusters", "2")
    metrics = report["metrics"]
    assert metrics["added_images"] == 1 and metrics["removed_faces"] == 1 and metrics["faces"] == 4
    assert report["config"]["update"] is True
    after = load_index(out)
    assert sorted(after.files) == ["ann.jpg", "cy.png", "dee.jpg", "eve.jpg"]
    np.testing.assert_array_equal(after.embeddings[after.files.index("ann.jpg")],
                                  before.embeddings[before.files.index("ann.jpg")])
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_update_needs_a_matching_index(mlkit, indexed, tmp_path):
    gallery, index_file = indexed
    missing = mlkit("faces", "index", gallery, "--out", tmp_path / "none.h5", "--update")
    one_error_line(missing, 1, f"{tmp_path / 'none.h5'}")
    assert "does not exist" in missing.stderr
    copy = shutil.copy(index_file, tmp_path / "i.h5")
    other = mlkit("faces", "index", gallery, "--out", copy, "--update", "--embedder", "keras:m.keras")
    one_error_line(other, 1, "was made with --embedder dlib")
    cropped = mlkit("faces", "index", gallery, "--out", copy, "--update", "--assume-cropped")
    one_error_line(cropped, 1, "was made without --assume-cropped")
    assert (tmp_path / "i.h5").read_bytes() == index_file.read_bytes()


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
    one_error_line(result, 1, message)
    assert result.stdout == "" and not (tmp_path / "i.h5").exists()


def test_bad_images_are_skipped_with_a_warning(mlkit, tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(png_declaring(100_000, 100_000))
    Image.fromarray(np.array([[0, 40000], [65535, 1000]], dtype=np.uint16)).save(folder / "deep.png")
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "dot.png")
    smooth_image(5).save(folder / "cut.jpg")
    (folder / "cut.jpg").write_bytes((folder / "cut.jpg").read_bytes()[:300])
    result = mlkit("faces", "index", folder, "--out", tmp_path / "i.h5", "--workers", "1", "--clusters", "1", "--json")
    assert result.exit_code == 0 and "Traceback" not in result.stderr, result.output
    report = json.loads(result.stdout)
    validate_envelope(report)
    assert report["metrics"]["images"] == 2 and report["metrics"]["skipped"] == 2
    assert sorted(row["file"] for row in report["per_image"]) == ["deep.png", "dot.png"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: skipped")]
    assert len(warnings) == 2 and "bomb.png is too large to read safely" in warnings[0]
    assert "cut.jpg is not a readable image" in warnings[1]


def test_output_path_is_checked_before_any_image_is_embedded(mlkit, indexed, tmp_path):
    gallery, _ = indexed
    missing_folder = mlkit("faces", "index", gallery, "--out", tmp_path / "no" / "i.h5")
    one_error_line(missing_folder, 1, "--out")
    assert "does not exist" in missing_folder.stderr and "embedding" not in missing_folder.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_an_unwritable_output_folder_is_refused_before_embedding(mlkit, indexed, tmp_path):
    gallery, _ = indexed
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        refused = mlkit("faces", "index", gallery, "--out", locked / "i.h5")
    finally:
        locked.chmod(0o700)
    one_error_line(refused, 1, "is not writable")
    assert "embedding" not in refused.stderr


def test_bad_index_files(mlkit, indexed, tmp_path):
    gallery, index_file = indexed
    query = gallery / "ann.jpg"
    one_error_line(mlkit("faces", "match", query, "--index", tmp_path / "none.h5"), 1, "does not exist")
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF\r\n junk")
    one_error_line(mlkit("faces", "match", query, "--index", tmp_path / "junk.h5"), 1, "is not a readable HDF5 file")
    images = np.zeros((2, 4, 4), np.uint8)
    save_dataset(Dataset("d", images, np.zeros(2, np.int64), images, np.zeros(2, np.int64), ["a"]), tmp_path / "d.h5")
    one_error_line(mlkit("faces", "match", query, "--index", tmp_path / "d.h5"), 1, "is not a face index")


def test_an_index_with_nan_embeddings_and_a_valid_checksum_is_refused(mlkit, indexed, tmp_path):
    gallery, index_file = indexed
    arrays, attrs = load_arrays(index_file)
    arrays["embeddings"][1] = np.nan
    save_arrays(tmp_path / "nan.h5", arrays, {k: v for k, v in attrs.items() if k not in ("sha256", "format_version")})
    before = (tmp_path / "nan.h5").read_bytes()
    result = mlkit("faces", "match", gallery / "ann.jpg", "--index", tmp_path / "nan.h5")
    one_error_line(result, 1, "nan.h5 is not a usable face index: its embeddings or cluster centres hold NaN")
    assert result.stdout == ""
    update = mlkit("faces", "index", gallery, "--out", tmp_path / "nan.h5", "--update")
    one_error_line(update, 1, "is not a usable face index")
    assert (tmp_path / "nan.h5").read_bytes() == before
    document = mlkit.json("faces", "match", gallery / "ann.jpg", "--index", tmp_path / "nan.h5", exit_code=1)
    assert document["command"] == "faces match" and document["error"]["exit_code"] == 1


def test_bad_queries_and_options(mlkit, indexed, tmp_path):
    gallery, index_file = indexed
    index = ["--index", index_file]
    text_only = mlkit("faces", "match", gallery / "readme.txt", *index)
    one_error_line(text_only, 1, "none of the 1 query files is a readable image")
    one_error_line(mlkit("faces", "match", tmp_path / "nope.jpg", *index), 1, "does not exist")
    usage = [
        ("match", gallery / "ann.jpg", *index, "--json", "--csv"),
        ("match", gallery / "ann.jpg", *index, "--method", "mean"),
        ("match", gallery / "ann.jpg", *index, "--threshold", "-1"),
        ("match", gallery / "ann.jpg", *index, "--threshold", "nan"),
        ("match", gallery / "ann.jpg", *index, "--top-k", "0"),
        ("match", gallery / "ann.jpg", *index, "--top-k", "99999999999999999999"),
        ("index", gallery, "--out", tmp_path / "j.h5", "--clusters", "0"),
        ("index", gallery, "--out", tmp_path / "j.h5", "--clusters", "99999999999999999999999"),
        ("index", gallery, "--out", tmp_path / "j.h5", "--max-clusters", "1"),
        ("index", gallery, "--out", tmp_path / "j.h5", "--workers", "100000"),
        ("index", gallery, "--out", tmp_path / "j.h5", "--embedder", "facenet"),
        ("evaluate", gallery, "--threshold", "inf"),
    ]
    for args in usage:
        one_error_line(mlkit("faces", *args), 2, "")
    too_many = mlkit("faces", "index", gallery, "--out", tmp_path / "j.h5", "--clusters", "9", "--workers", "1")
    one_error_line(too_many, 2, "--clusters 9 is more than the 4 distinct faces")
    no_model = mlkit("faces", "index", gallery, "--out", tmp_path / "j.h5", "--embedder", "keras:none.keras")
    one_error_line(no_model, 1, "none.keras does not exist")
    assert not (tmp_path / "j.h5").exists()


@pytest.mark.parametrize("command, usage, missing", [
    ("index", ["--clusters", "0"], ["{tmp}/nowhere", "--out", "{tmp}/i.h5"]),
    ("match", ["--top-k", "0"], ["{gallery}/ann.jpg", "--index", "{tmp}/none.h5"]),
    ("evaluate", ["--threshold", "-1"], ["{tmp}/nowhere"]),
])
def test_json_error_documents(mlkit, indexed, tmp_path, command, usage, missing):
    gallery, index_file = indexed
    fill = {"tmp": tmp_path, "gallery": gallery}
    valid = {"index": [gallery, "--out", tmp_path / "i.h5"], "match": [gallery / "ann.jpg", "--index", index_file],
             "evaluate": [gallery]}[command]
    refused = mlkit.json("faces", command, *valid, *usage, exit_code=2)
    assert refused["command"] == f"faces {command}" and refused["error"]["exit_code"] == 2
    absent = mlkit.json("faces", command, *(arg.format(**fill) for arg in missing), exit_code=1)
    assert absent["command"] == f"faces {command}" and absent["error"]["exit_code"] == 1
    assert absent["error"]["message"] and "metrics" not in absent


def test_keras_embedder_reads_size_and_layout_from_the_model(mlkit, gallery, tmp_path):
    import keras

    inputs = keras.Input((3, 24, 24))  # channels first, like the seed's FaceNet
    outputs = keras.layers.Dense(8)(keras.layers.Flatten()(keras.layers.AveragePooling2D(4, data_format="channels_first")(inputs)))
    keras.Model(inputs, outputs).save(tmp_path / "tiny.keras")
    report, _ = index_gallery(mlkit, gallery, tmp_path / "k.h5", "--embedder", f"keras:{tmp_path / 'tiny.keras'}", "--assume-cropped")
    index = load_index(tmp_path / "k.h5")
    assert index.embeddings.shape == (4, 8) and index.metric == "cosine" and index.threshold == 0.2
    assert report["box_sources"] == {"assumed-cropped": 4}
    assert report["config"]["embedder"] == f"keras:{tmp_path / 'tiny.keras'}"
    match = mlkit.json("faces", "match", gallery / "cy.png", "--index", tmp_path / "k.h5")  # cropped, as the index
    assert match["matches"][0]["match"] == "cy" and match["matches"][0]["distance"] == pytest.approx(0, abs=1e-5)
    assert match["matches"][0]["box_source"] == "assumed-cropped" and match["config"]["assume_cropped"] is True
    keras.Sequential([keras.Input((10,)), keras.layers.Dense(2)]).save(tmp_path / "flat.keras")
    flat = mlkit("faces", "index", gallery, "--out", tmp_path / "f.h5", "--embedder", f"keras:{tmp_path / 'flat.keras'}")
    one_error_line(flat, 1, "a face embedder must take RGB images")


def test_keras_embedder_that_answers_nan_or_changed_is_refused(mlkit, gallery, tmp_path):
    import keras

    def save_model(units: int, weight: float):
        model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(units)])
        model.layers[-1].set_weights([np.full((192, units), weight, np.float32), np.zeros(units, np.float32)])
        model.save(tmp_path / "model.keras")

    spec = f"keras:{tmp_path / 'model.keras'}"
    save_model(4, np.nan)
    broken = mlkit("faces", "index", gallery, "--out", tmp_path / "k.h5", "--embedder", spec, "--assume-cropped")
    one_error_line(broken, 1, "no readable images in")
    assert broken.stderr.count("the embedder returned NaN or infinite values") == 4
    save_model(4, 0.01)
    index_gallery(mlkit, gallery, tmp_path / "k.h5", "--embedder", spec, "--assume-cropped", "--clusters", "1")
    save_model(6, 0.01)  # the model file replaced since the index was made
    changed = mlkit("faces", "match", gallery / "ann.jpg", "--index", tmp_path / "k.h5")
    one_error_line(changed, 1, "now gives 6-d embeddings but the index holds 4-d ones")


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """Three synthetic people with two pictures each, one a little brighter."""
    folder = tmp_path_factory.mktemp("evaluate") / "people"
    for person, seed in (("ann", 1), ("bob", 2), ("cy", 3)):
        (folder / person).mkdir(parents=True)
        base = smooth_image(seed)
        base.save(folder / person / "1.png")
        Image.eval(base, lambda v: min(255, v + 6)).save(folder / person / "2.png")
    return folder


def test_evaluate_on_a_labelled_folder(mlkit, people, tmp_path):
    report = mlkit.json("faces", "evaluate", people, "--workers", "1")
    metrics = report["metrics"]
    assert report["command"] == "faces evaluate" and report["data"]["files"] == 6
    assert tuple(metrics) == EVALUATE_METRICS
    assert metrics["people"] == 3 and metrics["faces"] == 6 and metrics["identification_accuracy"] == 1.0
    assert metrics["suggested_open_set_accuracy"] == 1.0 and report["config"]["threshold"] == 0.5
    assert metrics["suggested_threshold"] == report["suggested"]["threshold"]
    assert metrics["open_set_accuracy"] == report["at_threshold"]["open_set_accuracy"] and metrics["seconds"] > 0
    table = mlkit("faces", "evaluate", people, "--workers", "1", "--assume-cropped", "--threshold", "0.3")
    assert table.exit_code == 0 and "3 people, 6 faces" in table.stdout and "suggested" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    loose = tmp_path / "loose"
    shutil.copytree(people, loose)
    (loose / "loose.jpg").write_bytes((people / "ann" / "1.png").read_bytes())
    one_error_line(mlkit("faces", "evaluate", loose), 1, "one sub-folder of images per person")


def test_evaluate_expect(mlkit, people):
    met = mlkit.json("faces", "evaluate", people, "--workers", "1", "--expect", "identification_accuracy>=0.9")
    assert met["expectations"] == [{"metric": "identification_accuracy", "op": ">=", "value": 0.9,
                                    "actual": 1.0, "passed": True}]
    missed = mlkit.json("faces", "evaluate", people, "--workers", "1", "--expect", "people>=3",
                        "--expect", "suggested_threshold<=0.0001", exit_code=3)
    assert missed["metrics"]["people"] == 3 and [e["passed"] for e in missed["expectations"]] == [True, False]
    table = mlkit("faces", "evaluate", people, "--workers", "1", "--expect", "suggested_threshold<=0.0001")
    one_error_line(table, 3, "suggested_threshold <= 0.0001")
    assert "Expectations" in table.stdout and "3 people" in table.stdout
    unknown = mlkit("faces", "evaluate", people, "--expect", "accuracy>=0.5")
    one_error_line(unknown, 2, "unknown metric 'accuracy'")
    assert "identification_accuracy" in unknown.stderr and "embedded" not in unknown.stderr


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
