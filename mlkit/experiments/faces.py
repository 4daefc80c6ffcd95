"""`mlkit faces index / match / evaluate`: face retrieval with embeddings, clusters and an inverted index.

Seed 003 embedded a gallery with FaceNet, clustered it with KMeans(6), kept cluster -> files and
answered each query with the cluster whose centre is most cosine-similar (None at <= 0.8). Here
the embedder is dlib's (or any Keras model), K can be chosen by silhouette, and queries can also
be matched to their nearest gallery faces. Each run's result gives the shared record
(docs/json.md); `seconds` there is the time spent reading and embedding images, the part of a
run that grows with the gallery.
"""

import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..errors import ConfigError, DataError
from ..faces.embedders import embedder_metric, normalize_spec
from ..faces.evaluation import leave_one_out, scores_at, suggest_threshold
from ..faces.gallery import (ROW_KEYS, Clustering, build_index, cluster_rows, folder_fingerprint, gallery_rows,
                             labelled_images, previous_rows, relative_name)
from ..faces.images import find_images
from ..faces.index import MAX_CLUSTERS, FaceIndex, load_index, save_index
from ..faces.matching import MAX_TOP_K, METHODS, match_faces
from ..faces.pipeline import MAX_WORKERS, FaceOptions, ImageFaces, read_faces
from ..files import check_output_path
from ..record import Record, data_block, file_entry, file_sha256

INDEX_METRICS = ("images", "faces", "added_images", "removed_faces", "skipped", "clusters", "silhouette",
                 "seconds", "wall_seconds", "images_per_second")
MATCH_METRICS = ("queries", "faces", "matched", "unmatched", "skipped", "seconds", "wall_seconds",
                 "images_per_second")
EVALUATE_METRICS = ("identification_accuracy", "open_set_accuracy", "known_identified", "rejection_precision",
                    "rejection_recall", "suggested_threshold", "suggested_open_set_accuracy", "people", "faces",
                    "skipped", "seconds", "wall_seconds", "images_per_second")


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


def _embed(paths: list[Path], embedder: str, options: FaceOptions, quiet: bool) -> tuple[list[ImageFaces], float]:
    """Embed every image, and the seconds it took; unreadable ones are skipped with a warning
    (printed even when quiet)."""
    start = time.perf_counter()
    results = read_faces(paths, embedder, options, _progress(quiet)) if paths else []
    for result in results:
        if result.error:
            _say(f"warning: skipped {result.error}")
    return [r for r in results if not r.error], time.perf_counter() - start


def _check_options(options: FaceOptions, threshold: float | None = None) -> None:
    """Ranges the CLI checks too, for callers of the library (exit 2 either way)."""
    if not 1 <= options.workers <= MAX_WORKERS:
        raise ConfigError(f"--workers must be in 1..{MAX_WORKERS}, got {options.workers}.")
    if threshold is not None and not (np.isfinite(threshold) and threshold >= 0):
        raise ConfigError(f"--threshold must be a finite number >= 0, got {threshold}.")


def _per_second(count: int, seconds: float) -> float | None:
    return count / seconds if count and seconds > 0 else None


@dataclass
class IndexResult:
    """What `run_index` did: the gallery read, the faces and clusters written, the time it took."""

    METRICS: ClassVar[tuple[str, ...]] = INDEX_METRICS

    config: IndexConfig
    gallery: str
    fingerprint: str
    files_found: int
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
    wall_seconds: float

    def __repr__(self) -> str:
        return f"IndexResult(gallery={self.gallery!r}, faces={self.faces}, clusters={len(self.clusters)})"

    @property
    def images_per_second(self) -> float | None:
        return _per_second(self.added_images, self.seconds)

    def record(self) -> Record:
        config = self.config
        settings = {"gallery": self.gallery, "out": str(config.out), "embedder": config.embedder,
                    "clusters": len(self.clusters), "cluster_choice": "given" if config.clusters else "silhouette",
                    "max_clusters": None if config.clusters else config.max_clusters, "update": config.update,
                    **asdict(config.faces)}
        metrics = {"images": self.images, "faces": self.faces, "added_images": self.added_images,
                   "removed_faces": self.removed_faces, "skipped": self.skipped, "clusters": len(self.clusters),
                   "silhouette": self.silhouettes.get(len(self.clusters)), "seconds": self.seconds,
                   "wall_seconds": self.wall_seconds, "images_per_second": self.images_per_second}
        data = data_block(Path(self.gallery).name, self.gallery, self.fingerprint, files=self.files_found)
        sections = {"clusters": self.clusters, "silhouettes": self.silhouettes, "box_sources": self.box_sources,
                    "per_image": self.per_image}
        return Record("faces index", settings, metrics, data, [file_entry(config.out, "index")], config.seed, sections)


def _check_index_config(config: IndexConfig) -> None:
    if config.clusters is not None and not 1 <= config.clusters <= MAX_CLUSTERS:
        raise ConfigError(f"--clusters must be in 1..{MAX_CLUSTERS}, got {config.clusters}.")
    if not 2 <= config.max_clusters <= MAX_CLUSTERS:
        raise ConfigError(f"--max-clusters must be in 2..{MAX_CLUSTERS}, got {config.max_clusters}.")
    _check_options(config.faces)


def _rows_to_keep(config: IndexConfig, paths: list[Path], root: Path) -> tuple[dict[str, list], int, list[Path]]:
    """With --update: the old index's rows whose files remain, how many it loses, and the files
    still to embed; else nothing kept and every file to embed."""
    if not config.update:
        return {key: [] for key in ROW_KEYS}, 0, paths
    names = {relative_name(path, root): path for path in paths}
    rows, removed = previous_rows(config.out, config.embedder, config.faces.assume_cropped, set(names))
    known = set(rows["files"])
    return rows, removed, [path for name, path in names.items() if name not in known]


def run_index(config: IndexConfig) -> IndexResult:
    """Embed a gallery folder, cluster it and write the index file.

    Everything that can be refused is refused before the first image is embedded: options,
    the gallery folder, the output path, and (with --update) the existing index.
    """
    start = time.perf_counter()
    _check_index_config(config)
    root = Path(config.gallery).resolve()
    if not root.is_dir():
        raise DataError(f"{config.gallery} is not a folder; give the folder of gallery images.")
    check_output_path(config.out, "--out")
    config = replace(config, embedder=normalize_spec(config.embedder))
    paths = find_images([root])
    fingerprint, files_found = folder_fingerprint(paths, root), len(paths)
    rows, removed, paths = _rows_to_keep(config, paths, root)
    _say(f"embedding {len(paths)} images with {config.embedder}", config.quiet)
    images, seconds = _embed(paths, config.embedder, config.faces, config.quiet)
    for key, values in gallery_rows(images, root).items():
        rows[key] += values
    if not rows["files"]:
        raise DataError(f"no readable images in {config.gallery} ({len(paths)} files skipped); "
                        "give a folder of JPEG or PNG face images.")
    index = build_index(rows, root, config.embedder, config.faces.assume_cropped,
                        Clustering(config.clusters, config.max_clusters, config.seed))
    save_index(index, config.out)
    return IndexResult(
        config=config, gallery=str(root), fingerprint=fingerprint, files_found=files_found,
        images=len(set(index.files)), faces=len(index.files), clusters=cluster_rows(index),
        silhouettes=index.silhouettes, box_sources=dict(Counter(index.box_sources)),
        per_image=[{"file": relative_name(i.path, root), "faces": len(i.boxes), "box_sources": i.sources}
                   for i in images],
        skipped=len(paths) - len(images), added_images=len(images), removed_faces=removed, seconds=seconds,
        wall_seconds=time.perf_counter() - start,
    )


@dataclass
class MatchResult:
    """Every query face with its answer, and the index that gave them."""

    METRICS: ClassVar[tuple[str, ...]] = MATCH_METRICS

    config: MatchConfig
    index: FaceIndex
    fingerprint: str
    threshold: float
    assume_cropped: bool
    matches: list[dict]
    queries: int
    skipped: int
    seconds: float
    wall_seconds: float

    def __repr__(self) -> str:
        return f"MatchResult(index={str(self.config.index)!r}, faces={len(self.matches)})"

    @property
    def method(self) -> str:
        return self.config.method

    @property
    def metric(self) -> str:
        return self.index.metric

    def record(self) -> Record:
        config = self.config
        settings = {"index": str(config.index), "queries": [str(q) for q in config.queries], "method": config.method,
                    "threshold": self.threshold, "top_k": config.top_k if config.method == "nearest" else None,
                    **asdict(replace(config.faces, assume_cropped=self.assume_cropped))}
        matched = sum(row["match"] is not None for row in self.matches)
        metrics = {"queries": self.queries, "faces": len(self.matches), "matched": matched,
                   "unmatched": len(self.matches) - matched, "skipped": self.skipped, "seconds": self.seconds,
                   "wall_seconds": self.wall_seconds, "images_per_second": _per_second(self.queries, self.seconds)}
        index = self.index
        data = data_block(Path(config.index).name, config.index, self.fingerprint, embedder=index.embedder,
                          metric=index.metric, faces=len(index.files), clusters=len(index.centres))
        return Record("faces match", settings, metrics, data, sections={"matches": self.matches})


def _check_match_config(config: MatchConfig) -> None:
    if config.method not in METHODS:
        raise ConfigError(f"--method must be one of {', '.join(METHODS)}, got {config.method!r}.")
    if not 1 <= config.top_k <= MAX_TOP_K:
        raise ConfigError(f"--top-k must be in 1..{MAX_TOP_K}, got {config.top_k}.")
    _check_options(config.faces, config.threshold)


def run_match(config: MatchConfig) -> MatchResult:
    """Match every face of every query image against an index (checked before any query is read)."""
    start = time.perf_counter()
    _check_match_config(config)
    index, fingerprint = load_index(config.index), file_sha256(config.index)
    threshold = index.threshold if config.threshold is None else config.threshold
    cropped = index.assume_cropped if config.assume_cropped is None else config.assume_cropped
    paths = find_images(config.queries)
    images, seconds = _embed(paths, index.embedder, replace(config.faces, assume_cropped=cropped), config.quiet)
    if not images:
        raise DataError(f"none of the {len(paths)} query files is a readable image.")
    rows = []
    for image in images:
        found = match_faces(image.embeddings, index, config.method, threshold, config.top_k)
        for face, (box, source, match) in enumerate(zip(image.boxes, image.sources, found)):
            rows.append({"file": str(image.path), "face": face, "box": list(box), "box_source": source,
                         "match": match.match, "distance": match.distance, "cluster": match.cluster,
                         "files": match.files, "distances": match.distances})
    return MatchResult(config, index, fingerprint, threshold, cropped, rows, len(images),
                       len(paths) - len(images), seconds, time.perf_counter() - start)


@dataclass
class EvaluateResult:
    """Leave-one-out scores of a labelled folder at the current and the suggested threshold."""

    METRICS: ClassVar[tuple[str, ...]] = EVALUATE_METRICS

    config: EvaluateConfig
    folder: str
    fingerprint: str
    metric: str
    people: int
    faces: int
    identification_accuracy: float
    at_threshold: dict
    suggested: dict
    images: int
    skipped: int
    seconds: float
    wall_seconds: float

    def __repr__(self) -> str:
        return (f"EvaluateResult(folder={self.folder!r}, people={self.people}, faces={self.faces}, "
                f"identification_accuracy={self.identification_accuracy:.4f})")

    def record(self) -> Record:
        config = self.config
        settings = {"folder": self.folder, "embedder": config.embedder, "threshold": self.at_threshold["threshold"],
                    **asdict(config.faces)}
        current, suggested = self.at_threshold, self.suggested
        metrics = {"identification_accuracy": self.identification_accuracy, **{
            key: current[key] for key in ("open_set_accuracy", "known_identified", "rejection_precision",
                                          "rejection_recall")},
            "suggested_threshold": suggested["threshold"], "suggested_open_set_accuracy": suggested["open_set_accuracy"],
            "people": self.people, "faces": self.faces, "skipped": self.skipped, "seconds": self.seconds,
            "wall_seconds": self.wall_seconds, "images_per_second": _per_second(self.images, self.seconds)}
        data = data_block(Path(self.folder).name, self.folder, self.fingerprint, files=self.images + self.skipped)
        sections = {"distance": self.metric, "at_threshold": current, "suggested": suggested}
        return Record("faces evaluate", settings, metrics, data, sections=sections)


def run_evaluate(config: EvaluateConfig) -> EvaluateResult:
    """Leave-one-out identification and unknown-person rejection on a labelled folder."""
    start = time.perf_counter()
    _check_options(config.faces, config.threshold)
    config = replace(config, embedder=normalize_spec(config.embedder))
    root, paths = labelled_images(config.folder)
    fingerprint = folder_fingerprint(paths, root)
    images, seconds = _embed(paths, config.embedder, config.faces, config.quiet)
    rows = gallery_rows(images, root)
    if len(set(rows["names"])) < 2:
        raise DataError(f"fewer than two people in {config.folder} have a readable image.")
    metric, default = embedder_metric(config.embedder)
    trials = leave_one_out(np.array(rows["embeddings"]), rows["names"], metric)
    threshold = default if config.threshold is None else config.threshold
    accuracy = float(trials["known_correct"].mean()) if len(trials["known_correct"]) else float("nan")
    return EvaluateResult(
        config=config, folder=str(root), fingerprint=fingerprint, metric=metric, people=len(set(rows["names"])),
        faces=len(rows["names"]), identification_accuracy=accuracy, at_threshold=scores_at(trials, threshold),
        suggested=suggest_threshold(trials), images=len(images), skipped=len(paths) - len(images),
        seconds=seconds, wall_seconds=time.perf_counter() - start,
    )
