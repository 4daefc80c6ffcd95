"""From image files to face embeddings: read, detect (or take the whole image), embed, in parallel."""

import math
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError
from .embedders import DlibDetector, make_embedder
from .images import LoadedImage, load_image

# Below this many images per worker a process pool costs more (start-up, model loading) than it saves.
MIN_IMAGES_PER_WORKER = 8
# Each worker loads its own models (about 100 MB for dlib); more than this only queue for cores.
MAX_WORKERS = 64


@dataclass
class FaceOptions:
    """How faces are found in images and how the work is spread over processes."""

    largest: bool = False  # keep only the largest face of each image
    assume_cropped: bool = False  # every image is one face: skip detection
    upsample: int = 1  # detector upsampling: 1 finds faces down to about 40 pixels
    max_side: int = 1024  # larger images are shrunk before detection
    border: float = 0.33  # black border added (fraction of the shorter side) so faces cut by the
    # image edge are still found: on the course's 96x96 crops it found 17 of 17 faces, not 15
    workers: int = 2  # processes embedding in parallel (dlib); 1 runs in this process


@dataclass
class ImageFaces:
    """The faces found in one image file, or why the file was skipped."""

    path: Path
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # left, top, right, bottom
    sources: list[str] = field(default_factory=list)  # detected, whole-image or assumed-cropped
    embeddings: np.ndarray | None = None
    error: str | None = None

    def __repr__(self) -> str:
        return f"ImageFaces({str(self.path)!r}, faces={len(self.boxes)}, error={self.error!r})"


class FaceReader:
    """Finds and embeds the faces of one image at a time with one embedder."""

    def __init__(self, embedder_spec: str, options: FaceOptions):
        self.embedder = make_embedder(embedder_spec)
        self.detector = None if options.assume_cropped else DlibDetector()
        self.options = options

    def __repr__(self) -> str:
        return f"FaceReader({self.embedder!r}, {self.options!r})"

    def __call__(self, path: Path) -> ImageFaces:
        try:
            image = load_image(path, self.options.max_side)
        except DataError as error:
            return ImageFaces(path, error=str(error))
        faces = self._embed(path, image)
        if not np.isfinite(faces.embeddings).all():
            # A Keras model can answer NaN (an untrained or broken one); such a row would match
            # nothing, or everything, so the image is skipped like an unreadable one.
            return ImageFaces(path, error=f"{path}: the embedder returned NaN or infinite values for it.")
        return faces

    def _embed(self, path: Path, image: LoadedImage) -> ImageFaces:
        boxes, pad = self._detect(image.pixels)
        if not boxes:
            source = "assumed-cropped" if self.options.assume_cropped else "whole-image"
            whole = (0, 0, image.file_width - 1, image.file_height - 1)
            return ImageFaces(path, [whole], [source], self.embedder.whole(image.pixels))
        padded = np.pad(image.pixels, ((pad, pad), (pad, pad), (0, 0)))
        shape = image.pixels.shape
        return ImageFaces(path, [_to_file_pixels(b, pad, image.scale, shape) for b in boxes],
                          ["detected"] * len(boxes), self.embedder(padded, boxes))

    def _detect(self, pixels: np.ndarray) -> tuple[list[tuple[int, int, int, int]], int]:
        """Face boxes in the coordinates of the image padded with a black border, and the border."""
        if self.detector is None:
            return [], 0
        pad = round(self.options.border * min(pixels.shape[:2]))
        boxes = self.detector(np.pad(pixels, ((pad, pad), (pad, pad), (0, 0))), self.options.upsample)
        if self.options.largest and boxes:
            boxes = [max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))]
        return boxes, pad


def _to_file_pixels(box, pad: int, scale: float, shape) -> tuple[int, int, int, int]:
    # Boxes may reach into the border; report the part inside the image.
    left, top = max(0, box[0] - pad), max(0, box[1] - pad)
    right, bottom = min(shape[1] - 1, box[2] - pad), min(shape[0] - 1, box[3] - pad)
    # Right and bottom are inclusive: the last file pixel covered, not where it starts.
    return (round(left * scale), round(top * scale), round((right + 1) * scale) - 1, round((bottom + 1) * scale) - 1)


_worker_reader: FaceReader | None = None


def _start_worker(embedder_spec: str, options: FaceOptions) -> None:
    global _worker_reader
    _worker_reader = FaceReader(embedder_spec, options)


def _read_in_worker(path: Path) -> ImageFaces:
    return _worker_reader(path)


def read_faces(paths: list[Path], embedder_spec: str, options: FaceOptions,
               progress: Callable[[int, int], None] | None = None) -> list[ImageFaces]:
    """Find and embed the faces of every image, in order; unreadable files come back with `error`.

    dlib runs in `options.workers` processes (each loads the models once). They are spawned,
    not forked, because the parent may already run TensorFlow threads, which fork would break.
    Keras embedders run here: TensorFlow already spreads one model call over every core.
    """
    workers = min(options.workers, math.ceil(len(paths) / MIN_IMAGES_PER_WORKER))
    if embedder_spec != "dlib" or workers <= 1:
        reader = FaceReader(embedder_spec, options)
        return _collect(map(reader, paths), len(paths), progress)
    chunk = max(1, min(16, len(paths) // (4 * workers)))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(embedder_spec, options)) as pool:
        return _collect(pool.map(_read_in_worker, paths, chunksize=chunk), len(paths), progress)


def _collect(results, total: int, progress) -> list[ImageFaces]:
    collected = []
    for result in results:
        collected.append(result)
        if progress:
            progress(len(collected), total)
    return collected
