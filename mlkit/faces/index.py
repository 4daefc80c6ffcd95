"""The face index: embeddings, files, boxes, KMeans clusters and the inverted index, in one HDF5 file."""

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import load_arrays, save_arrays
from ..errors import ConfigError, DataError

KIND = "face-index"
ARRAYS = ("embeddings", "files", "names", "boxes", "box_sources", "labels", "centres",
          "inverted_offsets", "inverted_faces")


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
    """Write the index atomically, with its checksum (format in docs/formats.md)."""
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
             "clusters": len(index.centres), "assume_cropped": bool(index.assume_cropped), "silhouettes": {str(k): v for k, v in index.silhouettes.items()}}
    return save_arrays(path, arrays, attrs)


def load_index(path: str | Path) -> FaceIndex:
    """Read and check a face index written by `save_index`.

    Raises:
        DataError: missing, damaged, or not a face index.
    """
    arrays, attrs = load_arrays(path)
    if attrs.get("kind") != KIND or any(name not in arrays for name in ARRAYS):
        raise DataError(f"{path} is not a face index (kind {attrs.get('kind')!r}); "
                        "make one with `mlkit faces index GALLERY --out FILE.h5`.")
    return FaceIndex(
        embeddings=arrays["embeddings"], files=_decode(arrays["files"]), names=_decode(arrays["names"]),
        boxes=arrays["boxes"], box_sources=_decode(arrays["box_sources"]), labels=arrays["labels"],
        centres=arrays["centres"], embedder=attrs["embedder"], metric=attrs["metric"],
        threshold=float(attrs["threshold"]), gallery=attrs["gallery"],
        silhouettes={int(k): float(v) for k, v in attrs.get("silhouettes", {}).items()},
        assume_cropped=bool(attrs.get("assume_cropped", False)),
    )


def _encode(strings: list[str]) -> np.ndarray:
    # Fixed-length UTF-8 bytes: h5py stores them as they are, so the checksum survives a round trip.
    return np.array([s.encode("utf-8") for s in strings], dtype=bytes)


def _decode(array: np.ndarray) -> list[str]:
    return [item.decode("utf-8") for item in array]
