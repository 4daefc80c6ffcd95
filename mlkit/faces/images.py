"""Reading face images: any mode Pillow opens (grey, 16-bit, RGBA, palette) as RGB, large ones shrunk."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import DataError
from ..images import SIXTEEN_BIT_MODES, open_image


@dataclass
class LoadedImage:
    """An RGB uint8 image, the factor that maps its pixels back to the file's, and the file's size."""

    pixels: np.ndarray
    scale: float
    file_width: int
    file_height: int

    def __repr__(self) -> str:
        return f"LoadedImage(shape={self.pixels.shape}, scale={self.scale:g})"


def load_image(path: str | Path, max_side: int) -> LoadedImage:
    """Read an image file as contiguous RGB uint8, shrinking it so its longer side is <= max_side.

    Args:
        path: the image file.
        max_side: longer side in pixels beyond which the image is resized (detection on a
            20-megapixel photo would take seconds and finds the same faces).
    Returns:
        The pixels and `scale` (file pixels per returned pixel, 1.0 when not resized).
    Raises:
        DataError: the file is missing, is not an image Pillow can decode, or declares more
            pixels than Pillow's decompression-bomb guard (PIL.Image.MAX_IMAGE_PIXELS) allows.
    """
    with open_image(path) as image:
        image = _to_rgb(image)
    file_width, file_height = image.size
    scale = max(image.size) / max_side
    if scale > 1:
        image = image.resize((round(image.width / scale), round(image.height / scale)), Image.BILINEAR)
    else:
        scale = 1.0
    return LoadedImage(np.ascontiguousarray(np.asarray(image, dtype=np.uint8)), scale, file_width, file_height)


def _to_rgb(image: Image.Image) -> Image.Image:
    image.load()  # decode now, so truncated files fail here and not later
    image = ImageOps.exif_transpose(image)  # phone photos: upright, as viewers show them
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels become white rather than whatever colour they happen to store.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.rint(np.asarray(image, dtype=np.float64) * (255 / 65535)).clip(0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    return image.convert("RGB")


def find_images(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders into a list of candidate files (folders searched recursively, sorted).

    Every non-hidden file counts; the ones that turn out not to be images are skipped, with a
    warning, when they are read.

    Raises:
        DataError: a path does not exist, or a folder holds no files at all.
    """
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not _is_hidden(p, path))
            if not files:
                raise DataError(f"{path} holds no files; give a folder of face images.")
            found += files
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"{path} does not exist; give image files or folders of images.")
    return found


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)
