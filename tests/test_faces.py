"""mlkit.faces: image reading, distances, clustering, the index file, matching and evaluation."""

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import cdist

from mlkit.data import load_arrays, save_arrays
from mlkit.errors import ConfigError, DataError
from mlkit.faces.evaluation import leave_one_out, scores_at, suggest_threshold
from mlkit.faces.gallery import folder_fingerprint
from mlkit.faces.images import find_images, load_image
from mlkit.faces.index import FaceIndex, choose_clusters, load_index, save_index
from mlkit.faces.matching import match_centroid, match_nearest, pairwise_distances

from .conftest import SHARED_DATA, needs_shared_data


def smooth_image(seed: int, size=(96, 96), mode="RGB") -> Image.Image:
    """A blurry random picture: small changes to it give small changes to its embedding."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.BICUBIC).convert(mode)


def test_load_image_converts_grey_rgba_and_shrinks_large(tmp_path):
    smooth_image(1, mode="L").save(tmp_path / "grey.png")
    grey = load_image(tmp_path / "grey.png", max_side=1024)
    assert grey.pixels.shape == (96, 96, 3) and grey.scale == 1.0
    assert np.array_equal(grey.pixels[..., 0], grey.pixels[..., 2])
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[:5, :, :] = (255, 0, 0, 255)  # top half opaque red, bottom half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    pixels = load_image(tmp_path / "rgba.png", max_side=1024).pixels
    assert pixels[0, 0].tolist() == [255, 0, 0] and pixels[9, 9].tolist() == [255, 255, 255]
    smooth_image(2, size=(3000, 1500)).save(tmp_path / "big.jpg")
    big = load_image(tmp_path / "big.jpg", max_side=1000)
    assert big.pixels.shape == (500, 1000, 3) and big.scale == pytest.approx(3.0)


def test_load_image_errors_name_the_file(tmp_path):
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(DataError, match="notes.jpg is not a readable image"):
        load_image(tmp_path / "notes.jpg", 1024)
    smooth_image(3).save(tmp_path / "cut.jpg")
    data = (tmp_path / "cut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cut.jpg is not a readable image"):
        load_image(tmp_path / "cut.jpg", 1024)
    with pytest.raises(DataError, match="does not exist"):
        load_image(tmp_path / "none.png", 1024)


def test_find_images_walks_folders_and_rejects_empty_or_missing(tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "a" / "x.jpg").write_bytes(b"1")
    (tmp_path / "a" / "sub" / "y.png").write_bytes(b"1")
    (tmp_path / "a" / ".hidden.jpg").write_bytes(b"1")
    assert [p.name for p in find_images([tmp_path / "a"])] == ["y.png", "x.jpg"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no files"):
        find_images([tmp_path / "empty"])
    with pytest.raises(DataError, match="does not exist"):
        find_images([tmp_path / "nowhere"])


@pytest.mark.parametrize("metric, scipy_name", [("euclidean", "euclidean"), ("cosine", "cosine")])
def test_pairwise_distances_match_scipy(metric, scipy_name):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 16)), rng.normal(size=(7, 16))
    np.testing.assert_allclose(pairwise_distances(a, b, metric), cdist(a, b, scipy_name), atol=1e-9)


def blobs(per_blob=6, centres=((0, 0), (10, 0), (0, 10)), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([np.array(c) + rng.normal(scale=0.3, size=(per_blob, 2)) for c in centres])


def test_silhouette_picks_the_number_of_blobs():
    labels, centres, scores = choose_clusters(blobs(), None, max_clusters=6, seed=0, metric="euclidean")
    assert len(centres) == 3 and max(scores, key=scores.get) == 3 and set(scores) == {2, 3, 4, 5, 6}
    assert len(set(labels[:6])) == len(set(labels[6:12])) == 1 and labels[0] != labels[6] != labels[12]


def test_cluster_count_edge_cases():
    labels, centres, scores = choose_clusters(np.ones((2, 4)), None, 10, 0, "euclidean")
    assert len(centres) == 1 and scores == {} and labels.tolist() == [0, 0]
    with pytest.raises(ConfigError, match="--clusters 3 is more than the 2 distinct faces"):
        choose_clusters(np.array([[0.0, 0], [0, 0], [1, 1]]), 3, 10, 0, "euclidean")


def make_index(embeddings: np.ndarray, clusters: int = 3) -> FaceIndex:
    labels, centres, _ = choose_clusters(embeddings, clusters, 10, 0, "euclidean")
    count = len(embeddings)
    return FaceIndex(embeddings.astype(np.float32), [f"p{i}/f{i}.jpg" for i in range(count)],
                     [f"person{i // 6}" for i in range(count)], np.tile([0, 0, 9, 9], (count, 1)),
                     ["whole-image"] * count, labels, centres, "dlib", "euclidean", 1.0, "/gallery")


def test_index_round_trip_and_inverted_index(tmp_path):
    index = make_index(blobs())
    save_index(index, tmp_path / "i.h5")
    loaded = load_index(tmp_path / "i.h5")
    np.testing.assert_array_equal(loaded.embeddings, index.embeddings)
    assert loaded.files == index.files and loaded.names == index.names and loaded.gallery == "/gallery"
    assert sorted(sum(loaded.inverted().values(), [])) == list(range(18))
    assert all(len(rows) == 6 for rows in loaded.inverted().values())


def test_load_index_rejects_other_mlkit_files_and_damage(tmp_path):
    save_arrays(tmp_path / "other.h5", {"x": np.zeros(3)}, {"kind": "image-classification"})
    with pytest.raises(DataError, match="is not a face index"):
        load_index(tmp_path / "other.h5")
    save_index(make_index(blobs()), tmp_path / "i.h5")
    data = (tmp_path / "i.h5").read_bytes()
    (tmp_path / "i.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="not a readable HDF5 file"):
        load_index(tmp_path / "i.h5")


def test_the_same_seed_gives_the_same_clusters():
    embeddings = blobs(per_blob=4, centres=((0, 0), (3, 0), (0, 3), (3, 3)), seed=1)
    first, again = (choose_clusters(embeddings, 3, 10, 7, "euclidean") for _ in range(2))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


def write_tampered(folder: Path, change) -> Path:
    """A face index whose arrays or attributes `change` edits, saved with a valid checksum."""
    save_index(make_index(blobs()), folder / "good.h5")
    arrays, attrs = load_arrays(folder / "good.h5")
    attrs = {key: value for key, value in attrs.items() if key not in ("sha256", "format_version")}
    change(arrays, attrs)
    return save_arrays(folder / "tampered.h5", arrays, attrs)


def set_item(name, where, value):
    def change(arrays, attrs):
        arrays[name] = arrays[name].copy()
        arrays[name][where] = value
    return change


def set_array(name, value):
    return lambda arrays, attrs: arrays.__setitem__(name, value(arrays[name]))


def set_attribute(name, value):
    return lambda arrays, attrs: attrs.__setitem__(name, value)


@pytest.mark.parametrize("change, problem", [
    (set_item("embeddings", (3, 0), np.nan), "embeddings or cluster centres hold NaN or infinite values"),
    (set_item("centres", (1, 1), np.inf), "embeddings or cluster centres hold NaN or infinite values"),
    (set_item("labels", 0, 7), "cluster ids must lie in 0..2"),
    (set_item("labels", 5, -1), "cluster ids must lie in 0..2"),
    (set_item("inverted_faces", slice(0, 2), [1, 0]), "inverted index does not agree"),
    (set_item("boxes", (0, 2), -5), "boxes must be left, top, right, bottom"),
    (set_item("box_sources", 0, b"magic"), "box sources must be among"),
    (set_item("names", 0, b"\xff\xfe"), "names are not UTF-8 text"),
    (set_array("embeddings", lambda a: a.astype(np.int64)), "embeddings must be a (faces, dims) float array"),
    (set_array("embeddings", lambda a: a[0]), "embeddings must be a (faces, dims) float array"),
    (set_array("files", lambda a: a[:-1]), "files has dtype"),
    (set_array("centres", lambda a: a[:, :1]), "centres has dtype"),
    (set_attribute("metric", "manhattan"), "unknown metric 'manhattan'"),
    (set_attribute("embedder", "facenet"), "unknown embedder 'facenet'"),
    (set_attribute("threshold", float("nan")), "threshold nan is not a finite number"),
    (set_attribute("threshold", "0.5"), "threshold '0.5' is not a finite number"),
    (set_attribute("clusters", 9), "it says 9 clusters but holds 3"),
    (set_attribute("silhouettes", {"two": 0.5}), "silhouette scores are not a {K: score} table"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_load_index_refuses_what_no_index_holds_despite_a_valid_checksum(tmp_path, change, problem):
    path = write_tampered(tmp_path, change)
    with pytest.raises(DataError, match="tampered.h5 is not a usable face index: ") as caught:
        load_index(path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_save_index_refuses_what_load_would_refuse(tmp_path):
    index = make_index(blobs())
    index.embeddings[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN or infinite"):
        save_index(index, tmp_path / "i.h5")
    assert not (tmp_path / "i.h5").exists()


def test_match_centroid_and_nearest():
    index = make_index(blobs())
    near_second_blob = np.array([10.2, 0.1], np.float32)
    centroid = match_centroid(near_second_blob, index, threshold=1.0)
    assert centroid.match == f"cluster {index.labels[6]}" and centroid.files == index.files[6:12]
    assert centroid.distance == pytest.approx(np.linalg.norm(index.centres[index.labels[6]] - near_second_blob), abs=1e-5)
    nearest = match_nearest(near_second_blob, index, threshold=1.0, top_k=3)
    expected = np.argsort(np.linalg.norm(index.embeddings - near_second_blob, axis=1))[:3]
    assert nearest.match == "person1" and nearest.files == [index.files[i] for i in expected]
    assert nearest.distances == sorted(nearest.distances)
    far = np.array([5.0, 5.0], np.float32)
    assert match_centroid(far, index, 1.0).match is None and match_nearest(far, index, 1.0, 3).match is None


def test_evaluation_counts_by_hand():
    embeddings = np.array([[0.0], [0.1], [5.0], [5.2], [20.0]])
    trials = leave_one_out(embeddings, ["a", "a", "b", "b", "c"], "euclidean")
    np.testing.assert_allclose(trials["known_distance"], [0.1, 0.1, 0.2, 0.2])
    assert trials["known_correct"].all()
    np.testing.assert_allclose(trials["unknown_distance"], [5.0, 4.9, 4.9, 5.1, 14.8])
    scores = scores_at(trials, 0.15)  # a accepted, b's two known queries rejected, every unknown rejected
    assert scores["known_identified"] == 0.5 and scores["rejection_recall"] == 1.0
    assert scores["rejection_precision"] == pytest.approx(5 / 7) and scores["open_set_accuracy"] == pytest.approx(7 / 9)
    best = suggest_threshold(trials)
    assert 0.2 < best["threshold"] < 4.9 and best["open_set_accuracy"] == 1.0


def test_folder_fingerprint_follows_names_and_bytes(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.jpg").write_bytes(b"one")
    (tmp_path / "b.jpg").write_bytes(b"two")

    def fingerprint():
        return folder_fingerprint(find_images([tmp_path]), tmp_path)

    seen = [fingerprint(), fingerprint()]
    (tmp_path / "b.jpg").write_bytes(b"TWO")
    seen.append(fingerprint())
    (tmp_path / "b.jpg").rename(tmp_path / "c.jpg")
    seen.append(fingerprint())
    (tmp_path / "p" / "a.jpg").rename(tmp_path / "a.jpg")  # same name, other folder
    seen.append(fingerprint())
    assert seen[0] == seen[1] and len(set(seen)) == 4


def side_by_side(*paths) -> Image.Image:
    images = [Image.open(p).convert("RGB") for p in paths]
    canvas = Image.new("RGB", (sum(i.width for i in images) + 40, max(i.height for i in images) + 40))
    x = 20
    for image in images:
        canvas.paste(image, (x, 20))
        x += image.width
    return canvas


@needs_shared_data
def test_two_real_faces_in_one_image_give_two_boxes(tmp_path):
    from mlkit.faces.pipeline import FaceOptions, FaceReader

    house = SHARED_DATA / "faces" / "happy_house"
    side_by_side(house / "bertrand.jpg", house / "camera_0.jpg").save(tmp_path / "two.png")
    both = FaceReader("dlib", FaceOptions(workers=1))(tmp_path / "two.png")
    assert both.sources == ["detected", "detected"] and both.embeddings.shape == (2, 128)
    lefts = sorted(box[0] for box in both.boxes)
    assert lefts[0] < 96 + 20 <= lefts[1]  # one face in each half
    largest = FaceReader("dlib", FaceOptions(workers=1, largest=True))(tmp_path / "two.png")
    assert len(largest.boxes) == 1 and largest.boxes[0] in both.boxes


def png_declaring(width: int, height: int) -> bytes:
    """A PNG header declaring width x height RGB pixels, with no pixel data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [100_000, 12_000], ids=["bomb", "twice-the-warning-size"])
def test_decompression_bombs_are_refused_before_decoding(tmp_path, side):
    (tmp_path / "bomb.png").write_bytes(png_declaring(side, side))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would be a second line on stderr
        with pytest.raises(DataError, match="bomb.png is too large to read safely"):
            load_image(tmp_path / "bomb.png", 1024)


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    grey = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "deep.png")
    pixels = load_image(tmp_path / "deep.png", 1024).pixels
    assert pixels[0, :, 0].tolist() == [0, 128, 255] and (pixels[..., 0] == pixels[..., 2]).all()


def test_load_image_turns_phone_photos_upright(tmp_path):
    image = smooth_image(5, size=(40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    image.save(tmp_path / "phone.jpg", exif=exif)
    assert load_image(tmp_path / "phone.jpg", 1024).pixels.shape == (40, 20, 3)
