"""Gallery rows: one per face, from embedded images or from an existing index (for --update);
the index built from them; the folders they come from."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..record import file_sha256
from .embedders import embedder_metric
from .images import find_images
from .index import FaceIndex, choose_clusters, load_index
from .pipeline import ImageFaces

ROW_KEYS = ("embeddings", "files", "names", "boxes", "box_sources")


def relative_name(path: Path, root: Path) -> str:
    """The path inside the gallery folder, with forward slashes."""
    return path.relative_to(root).as_posix()


def identity(relative: str) -> str:
    """DIR/<identity>/x.jpg names its person by folder; a loose x.jpg by its stem (face_recognition's rule)."""
    parts = Path(relative).parts
    return parts[0] if len(parts) > 1 else Path(relative).stem


def gallery_rows(images: list[ImageFaces], root: Path) -> dict[str, list]:
    """One row per face: embedding, file, identity, box and how the box was found."""
    rows = {key: [] for key in ROW_KEYS}
    for image in images:
        relative = relative_name(image.path, root)
        for box, source, embedding in zip(image.boxes, image.sources, image.embeddings):
            rows["embeddings"].append(embedding)
            rows["files"].append(relative)
            rows["names"].append(identity(relative))
            rows["boxes"].append(box)
            rows["box_sources"].append(source)
    return rows


def index_rows(index: FaceIndex, present: set[str]) -> dict[str, list]:
    """The rows of `index` whose file is in `present` (files deleted from the gallery drop out)."""
    keep = [i for i, name in enumerate(index.files) if name in present]
    return {"embeddings": [index.embeddings[i] for i in keep], "files": [index.files[i] for i in keep],
            "names": [index.names[i] for i in keep], "boxes": [tuple(index.boxes[i]) for i in keep],
            "box_sources": [index.box_sources[i] for i in keep]}


def folder_fingerprint(paths: list[Path], root: Path) -> str:
    """SHA-256 over the sorted names (relative to `root`) of a folder's files and each file's SHA-256.

    Adding, removing, renaming or changing any file changes it; a file that cannot be read
    counts by its name alone (the embedding step skips it with a warning).
    """
    digest = hashlib.sha256()
    for relative, path in sorted((relative_name(p, root), p) for p in paths):
        try:
            content = file_sha256(path)
        except OSError:
            content = "unreadable"
        digest.update(f"{relative}\0{content}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Clustering:
    """How the gallery is clustered: K given, or the best silhouette for 2..max_clusters."""

    clusters: int | None
    max_clusters: int
    seed: int


def build_index(rows: dict[str, list], root: Path, embedder: str, assume_cropped: bool,
                clustering: Clustering) -> FaceIndex:
    """Cluster the rows' embeddings and hold everything as one FaceIndex."""
    embeddings = np.array(rows["embeddings"], dtype=np.float32)
    metric, threshold = embedder_metric(embedder)
    labels, centres, silhouettes = choose_clusters(embeddings, clustering.clusters, clustering.max_clusters,
                                                   clustering.seed, metric)
    return FaceIndex(embeddings, rows["files"], rows["names"], np.array(rows["boxes"], dtype=np.int32),
                     rows["box_sources"], labels, centres, embedder, metric, threshold,
                     str(root), silhouettes, assume_cropped)


def previous_rows(path: Path, embedder: str, assume_cropped: bool, present: set[str]) -> tuple[dict[str, list], int]:
    """The rows of the index being updated whose files still exist, and how many were dropped.

    Raises:
        DataError: the index is missing, damaged, or was made another way than this update.
    """
    old = load_index(path)
    if old.embedder != embedder:
        raise DataError(f"{path} was made with --embedder {old.embedder}; update it with the "
                        "same embedder or write a new index.")
    if old.assume_cropped != assume_cropped:
        flag = "with" if old.assume_cropped else "without"
        raise DataError(f"{path} was made {flag} --assume-cropped; update it the same way.")
    rows = index_rows(old, present)
    return rows, len(old.files) - len(rows["files"])


def cluster_rows(index: FaceIndex) -> list[dict]:
    """Each cluster with its face count and files, for the result."""
    return [{"cluster": cluster, "faces": len(rows), "files": [index.files[r] for r in rows]}
            for cluster, rows in index.inverted().items()]


def labelled_images(folder: Path) -> tuple[Path, list[Path]]:
    """The resolved folder and its files, refusing anything but one sub-folder per person.

    Raises:
        DataError: not a folder, loose files beside the sub-folders, or fewer than two people.
    """
    root = Path(folder).resolve()
    if not root.is_dir():
        raise DataError(f"{folder} is not a folder; give DIR with one sub-folder of images per person.")
    paths = find_images([root])
    loose = [p for p in paths if len(p.relative_to(root).parts) < 2]
    people = {p.relative_to(root).parts[0] for p in paths} - {p.name for p in loose}
    if loose or len(people) < 2:
        raise DataError(f"{folder} must hold one sub-folder of images per person (at least two "
                        f"people, no loose files); found {len(people)} sub-folders and {len(loose)} loose files.")
    return root, paths
