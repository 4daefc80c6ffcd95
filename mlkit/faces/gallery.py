"""Gallery rows: one per face, from embedded images or from an existing index (for --update)."""

from pathlib import Path

from .index import FaceIndex
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
