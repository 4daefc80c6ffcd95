"""Matching query faces against an index: by cluster centre (the seed's method) or nearest faces."""

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from .index import FaceIndex

METHODS = ("nearest", "centroid")
# Gallery faces listed per query: a page a person reads, and a bound on the JSON's size.
MAX_TOP_K = 1000


def pairwise_distances(queries: np.ndarray, references: np.ndarray, metric: str) -> np.ndarray:
    """(queries, references) distances: Euclidean, or cosine distance 1 - cos(q, r).

    SciPy works from the differences, so a face matched with itself is exactly 0 apart.
    """
    from scipy.spatial.distance import cdist

    queries, references = np.asarray(queries, np.float64), np.asarray(references, np.float64)
    if metric == "cosine":
        return np.clip(np.nan_to_num(cdist(queries, references, "cosine"), nan=1.0), 0.0, 2.0)
    return cdist(queries, references, "euclidean")


@dataclass
class Match:
    """The answer for one query face: a name (or cluster) and the gallery files behind it."""

    match: str | None  # None when nothing is within the threshold
    distance: float  # to the nearest gallery face or cluster centre
    cluster: int | None  # best cluster (centroid) or the nearest face's cluster (nearest)
    files: list[str] = field(default_factory=list)  # the cluster's files, or the top-k faces
    distances: list[float] = field(default_factory=list)  # one per file for --method nearest

    def __repr__(self) -> str:
        return f"Match({self.match!r}, distance={self.distance:.4f}, files={len(self.files)})"


def match_centroid(embedding: np.ndarray, index: FaceIndex, threshold: float) -> Match:
    """The seed's method: closest KMeans centre; its cluster's files when within `threshold`."""
    distances = pairwise_distances(embedding[None], index.centres, index.metric)[0]
    cluster = int(np.argmin(distances))
    distance = float(distances[cluster])
    if distance > threshold:
        return Match(None, distance, cluster)
    rows = index.inverted()[cluster]
    return Match(f"cluster {cluster}", distance, cluster, [index.files[r] for r in rows])


def match_nearest(embedding: np.ndarray, index: FaceIndex, threshold: float, top_k: int) -> Match:
    """The nearest gallery face's name, with up to `top_k` gallery faces within `threshold`."""
    distances = pairwise_distances(embedding[None], index.embeddings, index.metric)[0]
    order = np.argsort(distances, kind="stable")[:top_k]
    best = int(order[0])
    distance = float(distances[best])
    if distance > threshold:
        return Match(None, distance, int(index.labels[best]))
    kept = [int(r) for r in order if distances[r] <= threshold]
    return Match(index.names[best], distance, int(index.labels[best]),
                 [index.files[r] for r in kept], [float(distances[r]) for r in kept])


def match_faces(embeddings: np.ndarray, index: FaceIndex, method: str, threshold: float,
                top_k: int) -> list[Match]:
    """Match every row of `embeddings` with `method` (nearest or centroid).

    Raises:
        DataError: the embeddings' length is not the index's (a Keras model file replaced
            since the index was made answers with another length).
    """
    if embeddings.shape[1] != index.embeddings.shape[1]:
        raise DataError(f"{index.embedder} now gives {embeddings.shape[1]}-d embeddings but the index holds "
                        f"{index.embeddings.shape[1]}-d ones; rebuild the index with `mlkit faces index`.")
    if method == "centroid":
        return [match_centroid(e, index, threshold) for e in embeddings]
    return [match_nearest(e, index, threshold, top_k) for e in embeddings]
