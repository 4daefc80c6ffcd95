"""`mlkit filter` and mlkit.filters: seed 000's sepia-and-blur filter as one Conv2D layer."""

import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from mlkit.errors import ConfigError, DataError
from mlkit.filters import (SEPIA, apply_filter, build_filter_model, gaussian_kernel, reference_filter,
                           sepia_blur_kernel)
from mlkit.images import load_rgb_image


def photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth colour regions with grain, like a photo: a coarse random image enlarged, plus noise."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize((width, height), Image.BICUBIC)
    noisy = np.asarray(coarse, dtype=np.int16) + rng.integers(-20, 21, (height, width, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_image(path, pixels: np.ndarray, mode: str | None = None):
    image = Image.fromarray(pixels)
    (image.convert(mode) if mode else image).save(path)
    return path


def error_line(result) -> str:
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1, result.stderr
    return result.stderr


# The kernel


def test_gaussian_is_normalised_symmetric_and_peaks_in_the_centre():
    gaussian = gaussian_kernel(5, 1.0)
    assert gaussian.shape == (5, 5) and gaussian.sum() == pytest.approx(1.0)
    assert np.allclose(gaussian, gaussian.T) and np.allclose(gaussian, gaussian[::-1, ::-1])
    assert gaussian.argmax() == 12
    # Neighbours one pixel apart differ by exp(-1/2) at sigma 1.
    assert gaussian[2, 3] / gaussian[2, 2] == pytest.approx(np.exp(-0.5))
    assert np.array_equal(gaussian_kernel(3, 1e-200), np.pad([[1.0]], 1))  # a tiny sigma: no blur, no NaN


def test_each_output_channel_sums_to_its_sepia_row():
    # The blur weights sum to 1, so the folded kernel keeps each sepia row's total.
    kernel = sepia_blur_kernel(5, 1.3)
    assert kernel.shape == (5, 5, 3, 3)
    assert np.allclose(kernel.sum(axis=(0, 1, 2)), SEPIA.sum(axis=1))
    assert np.allclose(kernel.sum(axis=(0, 1)), SEPIA.T)  # [input, output] = S transposed
    assert np.allclose(kernel[..., 0, 2] / kernel[2, 2, 0, 2], gaussian_kernel(5, 1.3) / gaussian_kernel(5, 1.3)[2, 2])


@pytest.mark.parametrize("size, sigma", [(4, 1.0), (0, 1.0), (33, 1.0), (5, 0.0), (5, float("nan")), (5, float("inf"))])
def test_bad_kernel_settings_are_config_errors(size, sigma):
    with pytest.raises(ConfigError):
        sepia_blur_kernel(size, sigma)


def test_numpy_reference_matches_explicit_loops():
    pixels = np.random.default_rng(1).integers(0, 256, (7, 6, 3)).astype(np.uint8)
    kernel = sepia_blur_kernel(3, 0.8)
    expected = np.zeros((5, 4, 3))
    for y in range(5):
        for x in range(4):
            for out in range(3):
                expected[y, x, out] = sum(float(pixels[y + i, x + j, c]) * kernel[i, j, c, out]
                                          for i in range(3) for j in range(3) for c in range(3))
    assert np.allclose(reference_filter(pixels, kernel), expected, rtol=0, atol=1e-9)


def test_layer_on_a_uniform_colour_gives_the_sepia_of_that_colour():
    colour = np.array([40.0, 90.0, 150.0])
    pixels = np.broadcast_to(colour, (9, 11, 3)).astype(np.uint8)
    output = apply_filter(build_filter_model(sepia_blur_kernel(5, 1.0)), pixels)
    assert output.shape == (5, 7, 3)
    assert np.allclose(output, SEPIA @ colour, atol=1e-3)  # the blur keeps a flat image flat
    assert np.abs(output - reference_filter(pixels, sepia_blur_kernel(5, 1.0))).max() < 1e-3


# Reading images


def test_sixteen_bit_grey_is_scaled_not_saturated(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.uint16)).save(path)
    pixels, mode = load_rgb_image(path)
    assert mode.startswith("I") and pixels.shape == (1, 3, 3)
    assert pixels[0, :, 0].tolist() == [0, 128, 255] and np.all(pixels[..., 0] == pixels[..., 2])


def test_a_palette_with_transparency_reads_as_its_colours(tmp_path):
    path = write_image(tmp_path / "palette.png", photo_like(10, 12), "P")
    with Image.open(path) as image:
        image.info["transparency"] = 0
        image.save(path, transparency=0)
    pixels, mode = load_rgb_image(path)
    assert mode == "P" and pixels.shape == (10, 12, 3)


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(DataError):
        load_rgb_image(tmp_path)


# The command


def test_seed_case_128_gives_124_and_checks(mlkit, tmp_path):
    source = write_image(tmp_path / "photo.png", photo_like(128, 128))
    out = tmp_path / "sepia.png"
    document = mlkit.json("filter", source, "--out", out, "--check")
    with Image.open(out) as written:
        assert written.format == "PNG" and written.mode == "RGB" and written.size == (124, 124)
        written_pixels = np.asarray(written)
    metrics = document["metrics"]
    assert (metrics["input_height"], metrics["input_width"], metrics["output_height"], metrics["output_width"]) == (
        128, 128, 124, 124)
    assert 0 <= metrics["max_difference"] <= document["config"]["tolerance"] and document["check"]["passed"]
    assert document["command"] == "filter" and document["config"]["size"] == 5 and document["config"]["sigma"] == 1.0
    assert np.array(document["kernel"]).shape == (5, 5, 3, 3)
    assert np.allclose(document["kernel"], sepia_blur_kernel(5, 1.0))
    assert document["files"] == [{"path": str(out), "kind": "image"}]
    assert document["data"]["fingerprint"] == hashlib.sha256(source.read_bytes()).hexdigest()
    # The file holds the reference's values, rounded and clipped.
    reference = reference_filter(photo_like(128, 128), sepia_blur_kernel(5, 1.0))
    assert np.abs(written_pixels.astype(float) - np.clip(reference, 0, 255)).max() <= 0.5 + 1e-2


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "1"])
def test_check_passes_on_every_mode(mlkit, tmp_path, mode):
    source = write_image(tmp_path / f"image_{mode}.png", photo_like(20, 17, seed=3), mode)
    out = tmp_path / "out.png"
    document = mlkit.json("filter", source, "--out", out, "--check", "--size", "3", "--sigma", "0.7")
    assert document["data"]["mode"] == mode and document["check"]["passed"]
    with Image.open(out) as written:
        assert written.size == (15, 18) and written.mode == "RGB"


def test_grey_comes_out_sepia_toned(mlkit, tmp_path):
    source = write_image(tmp_path / "grey.png", np.full((8, 8), 100, dtype=np.uint8))
    out = tmp_path / "out.png"
    assert mlkit("filter", source, "--out", out).exit_code == 0
    # S @ (100, 100, 100) = (135.1, 120.3, 93.7)
    assert np.asarray(Image.open(out))[0, 0].tolist() == [135, 120, 94]


def test_bright_pixels_are_clipped(mlkit, tmp_path):
    source = write_image(tmp_path / "white.png", np.full((6, 6, 3), 255, dtype=np.uint8))
    out = tmp_path / "out.png"
    assert mlkit("filter", source, "--out", out, "--check").exit_code == 0
    assert np.asarray(Image.open(out))[0, 0].tolist() == [255, 255, 239]  # 0.937 * 255 = 238.9


def test_table_names_sizes_kernel_and_check(mlkit, tmp_path):
    source = write_image(tmp_path / "photo.jpg", photo_like(40, 50))
    result = mlkit("filter", source, "--out", tmp_path / "out.png", "--size", "7", "--sigma", "2")
    assert result.exit_code == 0, result.output
    for text in ("50x40 pixels (RGB)", "44x34 pixels", "7x7x3 -> 3", "not run"):
        assert text in result.stdout
    assert f"wrote {tmp_path / 'out.png'}" in result.stderr
    quiet = mlkit("filter", source, "--out", tmp_path / "out.png", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_a_failed_check_exits_3_after_the_record(mlkit, tmp_path, monkeypatch):
    import mlkit.experiments.filter as experiment

    monkeypatch.setattr(experiment, "reference_filter", lambda pixels, kernel: reference_filter(pixels, kernel) + 0.5)
    source = write_image(tmp_path / "photo.png", photo_like(12, 12))
    document = mlkit.json("filter", source, "--out", tmp_path / "out.png", "--check", exit_code=3)
    assert document["metrics"]["max_difference"] == pytest.approx(0.5, abs=1e-2)
    assert document["check"]["passed"] is False
    result = mlkit("filter", source, "--out", tmp_path / "out.png", "--check")
    assert result.exit_code == 3 and "FAILED" in result.stdout
    # The written file is reported first; the failure is the last line.
    assert result.stderr.splitlines()[-1].startswith("Error: check failed")


@pytest.mark.parametrize("option", [["--size", "4"], ["--size", "33"], ["--size", "0"], ["--sigma", "nan"],
                                    ["--sigma", "0"], ["--sigma", "-1"], ["--sigma", "inf"]])
def test_out_of_range_options_exit_2(mlkit, tmp_path, option):
    source = write_image(tmp_path / "photo.png", photo_like(12, 12))
    result = mlkit("filter", source, "--out", tmp_path / "out.png", *option)
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out.png").exists()


def test_out_must_be_a_png_in_a_writable_folder(mlkit, tmp_path):
    source = write_image(tmp_path / "photo.png", photo_like(12, 12))
    assert mlkit("filter", source, "--out", tmp_path / "out.jpg").exit_code == 2
    result = mlkit("filter", source, "--out", tmp_path / "missing" / "out.png")
    assert result.exit_code == 1 and "does not exist" in error_line(result)


def test_bad_images_are_one_error_line(mlkit, tmp_path, monkeypatch):
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    truncated = tmp_path / "truncated.png"
    write_image(tmp_path / "whole.png", photo_like(30, 30))
    truncated.write_bytes((tmp_path / "whole.png").read_bytes()[:300])
    small = write_image(tmp_path / "small.png", photo_like(4, 9))
    out = tmp_path / "out.png"
    for path, message in [(text, "not a readable image"), (truncated, "not a readable image"),
                          (tmp_path / "missing.png", "does not exist"), (small, "smaller than the 5x5 kernel")]:
        result = mlkit("filter", path, "--out", out)
        assert result.exit_code == 1 and message in error_line(result)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 30x30 is then a decompression bomb
    result = mlkit("filter", tmp_path / "whole.png", "--out", out)
    assert result.exit_code == 1 and "too large" in error_line(result)
    assert not out.exists()


def test_failures_with_json_print_an_error_document(mlkit, tmp_path):
    source = write_image(tmp_path / "photo.png", photo_like(12, 12))
    usage = mlkit.json("filter", source, "--out", tmp_path / "out.png", "--size", "4", exit_code=2)
    assert usage["command"] == "filter" and usage["error"]["exit_code"] == 2
    missing = mlkit.json("filter", tmp_path / "missing.png", "--out", tmp_path / "out.png", exit_code=1)
    assert missing["error"]["exit_code"] == 1 and "does not exist" in missing["error"]["message"]


def test_an_existing_outputs_permissions_are_kept(mlkit, tmp_path):
    source = write_image(tmp_path / "photo.png", photo_like(12, 12))
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    out.chmod(0o600)
    assert mlkit("filter", source, "--out", out).exit_code == 0
    assert os.stat(out).st_mode & 0o777 == 0o600
    with Image.open(out) as written:
        assert written.size == (8, 8)
