"""`mlkit filter`: seed 000's sepia-and-blur filter run as one Keras Conv2D layer with fixed
weights, on any image file, checked against a direct NumPy computation on request."""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..files import check_output_path
from ..filters import (SEPIA, apply_filter, build_filter_model, check_kernel_settings, gaussian_kernel,
                       reference_filter, sepia_blur_kernel, to_pixels)
from ..images import load_rgb_image, save_png
from ..record import Record, data_block, file_entry, file_sha256

# Every key of the record's metrics: max_difference is the largest |layer - NumPy| on the
# 0..255 scale (None without --check); seconds is the layer's pass over the image,
# check_seconds the NumPy reference's, wall_seconds the whole run.
METRICS = ("max_difference", "input_height", "input_width", "output_height", "output_width",
           "seconds", "check_seconds", "wall_seconds")


@dataclass(frozen=True)
class FilterConfig:
    """One `mlkit filter` run; the defaults are seed 000's 5x5 kernel.

    Args:
        image: the image file to filter.
        out: the PNG file to write.
        sigma: the Gaussian's standard deviation, in pixels.
        size: the kernel's side, odd.
        check: also compute the output with NumPy and compare.
        tolerance: the largest difference --check accepts, on the 0..255 scale: a hundredth
            of a grey level, far below the 0.5 that changes a written pixel. The layer sums in
            float32; its largest difference measured was 1.1e-3 (31x31 kernel, 1.5-megapixel
            noise image), 1.6e-4 with the 5x5 kernel.
    """

    image: Path
    out: Path
    sigma: float = 1.0
    size: int = 5
    check: bool = False
    tolerance: float = 1e-2


@dataclass
class FilterResult:
    """What one run read, computed and wrote."""

    config: FilterConfig
    source_mode: str
    input_shape: tuple[int, int]
    output_shape: tuple[int, int]
    kernel: np.ndarray
    fingerprint: str
    seconds: float
    wall_seconds: float
    max_difference: float | None = None
    check_seconds: float | None = None

    def __repr__(self) -> str:
        return f"FilterResult({self.input_shape} -> {self.output_shape}, max_difference={self.max_difference})"

    @property
    def passed(self) -> bool | None:
        """Whether the layer agreed with NumPy within the tolerance; None without --check."""
        return None if self.max_difference is None else self.max_difference <= self.config.tolerance

    def record(self) -> Record:
        """The run in the shared envelope (docs/json.md), with the kernel as a section."""
        config, (height, width) = self.config, self.input_shape
        metrics = {"max_difference": self.max_difference, "input_height": height, "input_width": width,
                   "output_height": self.output_shape[0], "output_width": self.output_shape[1],
                   "seconds": self.seconds, "check_seconds": self.check_seconds, "wall_seconds": self.wall_seconds}
        check = None if self.passed is None else {
            "max_difference": self.max_difference, "tolerance": config.tolerance, "passed": self.passed}
        source = data_block(Path(config.image).name, config.image, self.fingerprint, mode=self.source_mode,
                            height=height, width=width)
        settings = {"sigma": config.sigma, "size": config.size, "check": config.check, "tolerance": config.tolerance}
        # The kernel in Keras' [row][column][input channel][output channel] order, and its two factors.
        sections = {"kernel": self.kernel, "gaussian": gaussian_kernel(config.size, config.sigma), "sepia": SEPIA,
                    "check": check}
        return Record("filter", settings, metrics, data=source, files=[file_entry(config.out, "image")],
                      sections=sections)


def check_config(config: FilterConfig) -> None:
    """Refuse settings no run can use, and an --out that cannot be written, before any work."""
    check_kernel_settings(config.size, config.sigma)
    if not np.isfinite(config.tolerance) or config.tolerance < 0:
        raise ConfigError(f"the check's tolerance must be a finite number >= 0, got {config.tolerance!r}.")
    if Path(config.out).suffix.lower() != ".png":
        raise ConfigError(f"--out {config.out} must end in .png: the filter writes a PNG file.")
    check_output_path(config.out, "--out")


def run(config: FilterConfig) -> FilterResult:
    """Filter the image with the Conv2D layer, write the PNG and, with `check`, compare with NumPy.

    Raises:
        ConfigError: a setting out of range (see check_config).
        DataError: the image is missing, unreadable, or smaller than the kernel.
        MlkitError: --out cannot be written.
    """
    started = time.perf_counter()
    check_config(config)
    pixels, mode = load_rgb_image(config.image)
    height, width = pixels.shape[:2]
    if min(height, width) < config.size:
        raise DataError(f"{config.image} is {width}x{height} pixels, smaller than the {config.size}x{config.size} "
                        f"kernel; give a larger image or a smaller --size.")
    kernel = sepia_blur_kernel(config.size, config.sigma)
    model = build_filter_model(kernel)
    layer_started = time.perf_counter()
    filtered = apply_filter(model, pixels)
    seconds = time.perf_counter() - layer_started
    save_png(to_pixels(filtered), config.out)
    result = FilterResult(config, mode, (height, width), filtered.shape[:2], kernel, file_sha256(config.image),
                          seconds, wall_seconds=0.0)
    if config.check:
        check_started = time.perf_counter()
        reference = reference_filter(pixels, kernel)
        result.check_seconds = time.perf_counter() - check_started
        # Compared before clipping, so saturated pixels cannot hide a difference.
        result.max_difference = float(np.max(np.abs(filtered.astype(np.float64) - reference)))
    result.wall_seconds = time.perf_counter() - started
    return result
