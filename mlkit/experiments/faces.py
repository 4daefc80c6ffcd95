"""`mlkit faces index / match / evaluate`: face retrieval with embeddings, clusters and an inverted index.

Seed 003 embedded a gallery with FaceNet, clustered it with KMeans(6), kept cluster -> files and
answered each query with the cluster whose centre is most cosine-similar (None at <= 0.8). Here
the embedder is dlib's (or any Keras model), K can be chosen by silhouette, and queries can also
be matched to their nearest gallery faces.
"""

import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError
from ..faces.embedders import embedder_metric, normalize_spec
from ..faces.evaluation import leave_one_out, scores_at, suggest_threshold
from ..faces.gallery import ROW_KEYS, gallery_rows, index_rows, relative_name
from ..faces.images import find_images
from ..faces.index import FaceIndex, choose_clusters, load_index, save_index
from ..faces.matching import METHODS, match_faces
from ..faces.pipeline import FaceOptions, ImageFaces, read_faces


@dataclass
class IndexConfig:
    """Options of `mlkit faces index`; clusters None means "chosen by silhouette score"."""

    gallery: Path
    out: Path
    embedder: str = "dlib"
    clusters: int | None = None
    max_clusters: int = 10
    update: bool = False
    seed: int = 0
    faces: FaceOptions = field(default_factory=FaceOptions)
    quiet: bool = False


@dataclass
class MatchConfig:
    """Options of `mlkit faces match`; threshold None means "the index's embedder default"."""

    queries: list[Path]
    index: Path
    method: str = "nearest"
    threshold: float | None = None
    top_k: int = 5
    assume_cropped: bool | None = None  # None: as the index was made
    faces: FaceOptions = field(default_factory=FaceOptions)
    quiet: bool = False


@dataclass
class EvaluateConfig:
    """Options of `mlkit faces evaluate` on a DIR/<identity>/*.jpg folder."""

    folder: Path
    embedder: str = "dlib"
    threshold: float | None = None
    faces: FaceOptions = field(default_factory=lambda: FaceOptions(largest=True))
    quiet: bool = False


def _say(message: str, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def _progress(quiet: bool):
    def report(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            _say(f"embedded {done}/{total} images", quiet)
    return report


def _embed(paths: list[Path], embedder: str, options: FaceOptions, quiet: bool) -> list[ImageFaces]:
    """Embed every image; unreadable ones are skipped with a warning (printed even when quiet)."""
    results = read_faces(paths, embedder, options, _progress(quiet))
    for result in results:
        if result.error:
            _say(f"warning: skipped {result.error}")
    return [r for r in results if not r.error]


def _previous_rows(config: IndexConfig, present: set[str]) -> tuple[dict[str, list], int]:
    """The rows of the index being updated whose files still exist, and how many were dropped."""
    old = load_index(config.out)
    if old.embedder != config.embedder:
        raise ConfigError(f"{config.out} was made with --embedder {old.embedder}; update it with the "
                          "same embedder or write a new index.")
    if old.assume_cropped != config.faces.assume_cropped:
        flag = "with" if old.assume_cropped else "without"
        raise ConfigError(f"{config.out} was made {flag} --assume-cropped; update it the same way.")
    rows = index_rows(old, present)
    return rows, len(old.files) - len(rows["files"])


@dataclass
class IndexResult:
    out: str
    gallery: str
    embedder: str
    images: int
    faces: int
    clusters: list[dict]
    silhouettes: dict[int, float]
    box_sources: dict[str, int]
    per_image: list[dict]
    skipped: int
    added_images: int
    removed_faces: int
    seconds: float
    images_per_second: float


def run_index(config: IndexConfig) -> IndexResult:
    """Embed a gallery folder, cluster it and write the index file."""
    start = time.perf_counter()
    root = Path(config.gallery).resolve()
    if not root.is_dir():
        raise DataError(f"{config.gallery} is not a folder; give the folder of gallery images.")
    if config.clusters is not None and config.clusters < 1:
        raise ConfigError("--clusters must be at least 1.")
    config = replace(config, embedder=normalize_spec(config.embedder))
    paths = find_images([root])
    rows, removed = {key: [] for key in ROW_KEYS}, 0
    if config.update:
        rows, removed = _previous_rows(config, {relative_name(p, root) for p in paths})
        known = set(rows["files"])
        paths = [p for p in paths if relative_name(p, root) not in known]
    _say(f"embedding {len(paths)} images with {config.embedder}", config.quiet)
    images = _embed(paths, config.embedder, config.faces, config.quiet) if paths else []
    skipped = len(paths) - len(images)
    for key, values in gallery_rows(images, root).items():
        rows[key] += values
    if not rows["files"]:
        raise DataError(f"no readable images in {config.gallery} ({skipped} files skipped); "
                        "give a folder of JPEG or PNG face images.")
    index = _build_index(config, rows, root)
    save_index(index, config.out)
    seconds = time.perf_counter() - start
    return IndexResult(
        out=str(config.out), gallery=str(root), embedder=config.embedder,
        images=len(set(index.files)), faces=len(index.files), clusters=_cluster_rows(index),
        silhouettes=index.silhouettes, box_sources=dict(Counter(index.box_sources)),
        per_image=[{"file": relative_name(i.path, root), "faces": len(i.boxes), "box_sources": i.sources}
                   for i in images],
        skipped=skipped, added_images=len(images), removed_faces=removed, seconds=seconds,
        images_per_second=len(paths) / seconds,
    )


def _build_index(config: IndexConfig, rows: dict[str, list], root: Path) -> FaceIndex:
    embeddings = np.array(rows["embeddings"], dtype=np.float32)
    metric, threshold = embedder_metric(config.embedder)
    labels, centres, silhouettes = choose_clusters(embeddings, config.clusters, config.max_clusters,
                                                   config.seed, metric)
    return FaceIndex(embeddings, rows["files"], rows["names"], np.array(rows["boxes"], dtype=np.int32),
                     rows["box_sources"], labels, centres, config.embedder, metric, threshold,
                     str(root), silhouettes, config.faces.assume_cropped)


def _cluster_rows(index: FaceIndex) -> list[dict]:
    return [{"cluster": cluster, "faces": len(rows), "files": [index.files[r] for r in rows]}
            for cluster, rows in index.inverted().items()]


@dataclass
class MatchResult:
    index: str
    embedder: str
    method: str
    threshold: float
    metric: str
    matches: list[dict]
    skipped: int
    seconds: float


def run_match(config: MatchConfig) -> MatchResult:
    """Match every face of every query image against an index."""
    start = time.perf_counter()
    if config.method not in METHODS:
        raise ConfigError(f"--method must be one of {', '.join(METHODS)}, got {config.method!r}.")
    if config.top_k < 1 or (config.threshold is not None and config.threshold < 0):
        raise ConfigError("--top-k must be at least 1 and --threshold at least 0.")
    index = load_index(config.index)
    threshold = index.threshold if config.threshold is None else config.threshold
    cropped = index.assume_cropped if config.assume_cropped is None else config.assume_cropped
    paths = find_images(config.queries)
    images = _embed(paths, index.embedder, replace(config.faces, assume_cropped=cropped), config.quiet)
    if not images:
        raise DataError(f"none of the {len(paths)} query files is a readable image.")
    rows = []
    for image in images:
        found = match_faces(image.embeddings, index, config.method, threshold, config.top_k)
        for face, (box, source, match) in enumerate(zip(image.boxes, image.sources, found)):
            rows.append({"file": str(image.path), "face": face, "box": list(box), "box_source": source,
                         "match": match.match, "distance": match.distance, "cluster": match.cluster,
                         "files": match.files, "distances": match.distances})
    return MatchResult(str(config.index), index.embedder, config.method, threshold, index.metric,
                       rows, len(paths) - len(images), time.perf_counter() - start)


@dataclass
class EvaluateResult:
    folder: str
    embedder: str
    metric: str
    people: int
    faces: int
    identification_accuracy: float
    at_threshold: dict
    suggested: dict
    skipped: int


def run_evaluate(config: EvaluateConfig) -> EvaluateResult:
    """Leave-one-out identification and unknown-person rejection on a labelled folder."""
    root = Path(config.folder).resolve()
    if not root.is_dir():
        raise DataError(f"{config.folder} is not a folder; give DIR with one sub-folder of images per person.")
    paths = find_images([root])
    loose = [p for p in paths if len(p.relative_to(root).parts) < 2]
    people = {p.relative_to(root).parts[0] for p in paths} - {p.name for p in loose}
    if loose or len(people) < 2:
        raise DataError(f"{config.folder} must hold one sub-folder of images per person (at least two "
                        f"people, no loose files); found {len(people)} sub-folders and {len(loose)} loose files.")
    images = _embed(paths, config.embedder, config.faces, config.quiet)
    rows = gallery_rows(images, root)
    if len(set(rows["names"])) < 2:
        raise DataError(f"fewer than two people in {config.folder} have a readable image.")
    metric, default = embedder_metric(normalize_spec(config.embedder))
    trials = leave_one_out(np.array(rows["embeddings"]), rows["names"], metric)
    threshold = default if config.threshold is None else config.threshold
    return EvaluateResult(
        folder=str(root), embedder=config.embedder, metric=metric, people=len(set(rows["names"])),
        faces=len(rows["names"]), identification_accuracy=float(trials["known_correct"].mean())
        if len(trials["known_correct"]) else float("nan"),
        at_threshold=scores_at(trials, threshold), suggested=suggest_threshold(trials),
        skipped=len(paths) - len(images),
    )
