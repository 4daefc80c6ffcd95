"""The face index: embeddings, files, boxes, KMeans clusters and the inverted index, in one HDF5 file."""

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import load_arrays, save_arrays
from ..errors import ConfigError, DataError

KIND = "face-index"
ARRAYS = ("embeddings", "files", "names", "boxes", "box_sources", "labels", "centres",
          "inverted_offsets", "inverted_faces")
METRICS = ("euclidean", "cosine")
BOX_SOURCES = ("detected", "whole-image", "assumed-cropped")
# KMeans centres (--clusters, --max-clusters): far more people than a gallery of this tool's
# scale holds, and a bound on the silhouette search's KMeans runs.
MAX_CLUSTERS = 1000


@dataclass
class FaceIndex:
    """Every gallery face (one row each) and the clusters they fall into."""

    embeddings: np.ndarray  # (faces, dims) float32
    files: list[str]  # image path relative to the gallery folder
    names: list[str]  # identity: the sub-folder for DIR/<identity>/*.jpg, else the file stem
    boxes: np.ndarray  # (faces, 4) int32 left, top, right, bottom in file pixels
    box_sources: list[str]  # detected, whole-image or assumed-cropped
    labels: np.ndarray  # (faces,) int64 cluster of each face
    centres: np.ndarray  # (clusters, dims) float32 KMeans centres
    embedder: str
    metric: str  # euclidean or cosine
    threshold: float  # the embedder's default maximum distance for a match
    gallery: str  # absolute folder the files are relative to
    silhouettes: dict[int, float] = field(default_factory=dict)  # score per K tried
    assume_cropped: bool = False  # faces were not detected: each image embedded whole

    def __repr__(self) -> str:
        return (f"FaceIndex(faces={len(self.files)}, clusters={len(self.centres)}, "
                f"embedder={self.embedder!r}, gallery={self.gallery!r})")

    def inverted(self) -> dict[int, list[int]]:
        """Cluster -> the rows of its faces (the seed's inverted index)."""
        return {cluster: np.flatnonzero(self.labels == cluster).tolist() for cluster in range(len(self.centres))}


def choose_clusters(embeddings: np.ndarray, clusters: int | None, max_clusters: int, seed: int,
                    metric: str) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    """KMeans with `clusters` centres, or the K in 2..max_clusters with the best silhouette score.

    Returns:
        (labels, centres, silhouette score per K tried; empty when K was given).
    Raises:
        ConfigError: more clusters asked for than there are distinct faces.
    """
    from sklearn.metrics import silhouette_score

    distinct = len(np.unique(embeddings, axis=0))
    if clusters is not None:
        if clusters > distinct:
            raise ConfigError(f"--clusters {clusters} is more than the {distinct} distinct faces "
                              "in the gallery; give at most that many.")
        return (*_kmeans(embeddings, clusters, seed), {})
    scores, fits = {}, {}
    for k in range(2, min(max_clusters, distinct - 1) + 1):
        fits[k] = _kmeans(embeddings, k, seed)
        scores[k] = float(silhouette_score(embeddings, fits[k][0], metric=metric))
    if not scores:  # two distinct faces or fewer: silhouette is undefined
        return (*_kmeans(embeddings, 1, seed), {})
    best = max(scores, key=scores.get)
    return (*fits[best], scores)


def _kmeans(embeddings: np.ndarray, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's notices about threads and duplicate points
        kmeans = KMeans(n_clusters=clusters, random_state=seed, n_init=10).fit(embeddings)
    return kmeans.labels_.astype(np.int64), kmeans.cluster_centers_.astype(np.float32)


def save_index(index: FaceIndex, path: str | Path) -> Path:
    """Write the index atomically, with its checksum (format in docs/formats.md).

    The arrays pass the same checks as on reading, so mlkit never writes an index it would refuse.
    """
    order = np.argsort(index.labels, kind="stable")
    offsets = np.searchsorted(index.labels[order], np.arange(len(index.centres) + 1)).astype(np.int64)
    arrays = {
        "embeddings": index.embeddings.astype(np.float32), "files": _encode(index.files),
        "names": _encode(index.names), "boxes": index.boxes.astype(np.int32),
        "box_sources": _encode(index.box_sources), "labels": index.labels.astype(np.int64),
        "centres": index.centres.astype(np.float32), "inverted_offsets": offsets,
        "inverted_faces": order.astype(np.int64),
    }
    attrs = {"kind": KIND, "embedder": index.embedder, "metric": index.metric,
             "threshold": float(index.threshold), "gallery": index.gallery,
             "clusters": len(index.centres), "assume_cropped": bool(index.assume_cropped),
             "silhouettes": {str(k): v for k, v in index.silhouettes.items()}}
    _checked_index(arrays, attrs, path)
    return save_arrays(path, arrays, attrs)


def load_index(path: str | Path) -> FaceIndex:
    """Read a face index written by `save_index`, checking it before any of it is used.

    The checksum only proves the file is unchanged since it was written, not that its writer
    was mlkit: a file with a valid checksum and NaN embeddings would answer every query with
    the same face, so shapes, dtypes, finiteness, cluster ids and names are checked too.

    Raises:
        DataError: missing, damaged, not a face index, or holding values no index can hold.
    """
    arrays, attrs = load_arrays(path)
    if attrs.get("kind") != KIND or any(name not in arrays for name in ARRAYS):
        raise DataError(f"{path} is not a face index (kind {attrs.get('kind')!r}); "
                        "make one with `mlkit faces index GALLERY --out FILE.h5`.")
    return _checked_index(arrays, attrs, path)


class _Refused(Exception):
    """One problem with an index's contents; `_checked_index` names the file around it."""


def _checked_index(arrays: dict[str, np.ndarray], attrs: dict, path: str | Path) -> FaceIndex:
    try:
        _check_arrays(arrays)
        return FaceIndex(
            embeddings=arrays["embeddings"], files=_decode(arrays["files"]), names=_decode(arrays["names"]),
            boxes=arrays["boxes"], box_sources=_decode(arrays["box_sources"]), labels=arrays["labels"],
            centres=arrays["centres"], **_checked_attributes(attrs, len(arrays["centres"])),
        )
    except _Refused as problem:
        raise DataError(f"{path} is not a usable face index: {problem}; "
                        "rebuild it with `mlkit faces index`.") from None


def _require(condition, problem: str) -> None:
    if not condition:
        raise _Refused(problem)


def _check_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Shapes and dtypes as docs/formats.md lists them, finite embeddings, cluster ids in range."""
    embeddings, centres, labels = arrays["embeddings"], arrays["centres"], arrays["labels"]
    _require(embeddings.ndim == 2 and min(embeddings.shape) >= 1 and embeddings.dtype.kind == "f",
             f"embeddings must be a (faces, dims) float array, not {embeddings.dtype} {embeddings.shape}")
    faces, dims = embeddings.shape
    _require(centres.ndim == 2 and len(centres) >= 1, f"centres must be a (clusters, dims) array, not {centres.shape}")
    clusters = len(centres)
    expected = {"files": ((faces,), "S"), "names": ((faces,), "S"), "box_sources": ((faces,), "S"),
                "boxes": ((faces, 4), "iu"), "labels": ((faces,), "iu"), "centres": ((clusters, dims), "f"),
                "inverted_offsets": ((clusters + 1,), "iu"), "inverted_faces": ((faces,), "iu")}
    for name, (shape, kinds) in expected.items():
        array = arrays[name]
        _require(array.shape == shape and array.dtype.kind in kinds,
                 f"{name} has dtype {array.dtype} and shape {array.shape}; expected shape {shape} "
                 f"for {faces} faces of {dims} dims in {clusters} clusters")
    _require(np.isfinite(embeddings).all() and np.isfinite(centres).all(),
             "its embeddings or cluster centres hold NaN or infinite values")
    _require(((labels >= 0) & (labels < clusters)).all(), f"cluster ids must lie in 0..{clusters - 1}")
    order = np.argsort(labels, kind="stable")
    _require(np.array_equal(arrays["inverted_faces"], order) and np.array_equal(
        arrays["inverted_offsets"], np.searchsorted(labels[order], np.arange(clusters + 1))),
        "its inverted index does not agree with the cluster ids")
    boxes = arrays["boxes"]
    _require(((boxes >= 0).all() and (boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all()),
             "boxes must be left, top, right, bottom with left <= right and top <= bottom, none negative")
    sources = set(arrays["box_sources"].tolist())
    _require(sources <= {s.encode() for s in BOX_SOURCES},
             f"box sources must be among {', '.join(BOX_SOURCES)}")


def _checked_attributes(attrs: dict, clusters: int) -> dict:
    """The FaceIndex fields stored as attributes, each of the type and range save_index writes."""
    embedder, metric, threshold = attrs.get("embedder"), attrs.get("metric"), attrs.get("threshold")
    _require(isinstance(embedder, str) and (embedder == "dlib" or embedder.startswith("keras:") and len(embedder) > 6),
             f"unknown embedder {embedder!r} (expected 'dlib' or 'keras:PATH')")
    _require(metric in METRICS, f"unknown metric {metric!r} (expected {' or '.join(METRICS)})")
    _require(_is_number(threshold) and math.isfinite(threshold) and threshold >= 0,
             f"threshold {threshold!r} is not a finite number >= 0")
    _require(isinstance(attrs.get("gallery"), str), "its gallery folder is not a string")
    _require(attrs.get("clusters", clusters) == clusters, f"it says {attrs.get('clusters')!r} clusters but holds {clusters}")
    silhouettes = attrs.get("silhouettes", {})
    _require(isinstance(silhouettes, dict) and all(
        key.isdigit() and _is_number(value) for key, value in silhouettes.items()),
        "its silhouette scores are not a {K: score} table")
    return {"embedder": embedder, "metric": metric, "threshold": float(threshold), "gallery": attrs["gallery"],
            "silhouettes": {int(k): float(v) for k, v in silhouettes.items()},
            "assume_cropped": bool(attrs.get("assume_cropped", False))}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _encode(strings: list[str]) -> np.ndarray:
    # Fixed-length UTF-8 bytes: h5py stores them as they are, so the checksum survives a round trip.
    return np.array([s.encode("utf-8") for s in strings], dtype=bytes)


def _decode(array: np.ndarray) -> list[str]:
    try:
        return [item.decode("utf-8") for item in array]
    except UnicodeDecodeError:
        raise _Refused("its file or person names are not UTF-8 text") from None
