"""Face embedders: dlib's ResNet (5-point aligned, 128-d) and any Keras model file.

Both use dlib's HOG detector to find faces. Each embedder names the distance it is meant to be
compared with and a default threshold on it (see docs/formats.md and `mlkit faces evaluate`).
"""

from pathlib import Path

import numpy as np

from ..errors import ConfigError, ModelError

# dlib's own tolerance is 0.6 on LFW photos; the low-resolution 96x96 course crops pack
# people closer together (an unknown face sat 0.57 from its nearest gallery face), so the
# default is stricter. `mlkit faces evaluate` suggests one for your own photos.
DLIB_THRESHOLD = 0.5
# The seed's rule, cosine similarity > 0.8, as a cosine distance.
KERAS_THRESHOLD = 0.2
# Keras crops: the detector's box grown by this fraction on every side, since FaceNet-style
# models were trained on loose crops showing the whole head.
KERAS_CROP_MARGIN = 0.4
CHIP_SIZE = 150  # dlib's network takes 150x150 chips


class DlibDetector:
    """dlib's frontal HOG face detector, best-scoring face first."""

    def __init__(self):
        import dlib

        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()

    def __repr__(self) -> str:
        return "DlibDetector()"

    def __call__(self, pixels: np.ndarray, upsample: int) -> list[tuple[int, int, int, int]]:
        rects, scores, _ = self._detector.run(pixels, upsample, 0.0)
        order = np.argsort(scores)[::-1]
        return [(rects[i].left(), rects[i].top(), rects[i].right(), rects[i].bottom()) for i in order]


class DlibEmbedder:
    """dlib's face_recognition_resnet_model_v1 on 150x150 chips aligned with 5 landmarks."""

    name = "dlib"
    metric = "euclidean"
    default_threshold = DLIB_THRESHOLD

    def __init__(self):
        import dlib
        import face_recognition_models as models

        self._dlib = dlib
        self._landmarks = dlib.shape_predictor(models.pose_predictor_five_point_model_location())
        self._network = dlib.face_recognition_model_v1(models.face_recognition_model_location())

    def __repr__(self) -> str:
        return "DlibEmbedder()"

    def __call__(self, pixels: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        shapes = self._dlib.full_object_detections()
        for left, top, right, bottom in boxes:
            shapes.append(self._landmarks(pixels, self._dlib.rectangle(left, top, right, bottom)))
        chips = self._dlib.get_face_chips(pixels, shapes, size=CHIP_SIZE, padding=0.25)
        return np.array([self._network.compute_face_descriptor(chip) for chip in chips], dtype=np.float32)

    def whole(self, pixels: np.ndarray) -> np.ndarray:
        """Embed an image that is one face, resized to a chip without landmark alignment.

        The 5-point model expects a detector's box; given a whole crop instead it misplaces the
        landmarks. On the course's 96x96 crops, plain resizing kept 94% of the 5 nearest
        neighbours of one person's faces within that person, against 89% with alignment.
        """
        from PIL import Image

        chip = Image.fromarray(pixels).resize((CHIP_SIZE, CHIP_SIZE), Image.BICUBIC)
        return np.array([self._network.compute_face_descriptor(np.asarray(chip))], dtype=np.float32)


class KerasEmbedder:
    """Any Keras model mapping a face image to a vector; input size and layout read from the model.

    Crops are resized to the model's input and fed as RGB floats in [0, 1], channels last or
    first as the model's input shape says; other preprocessing belongs inside the model.
    """

    metric = "cosine"
    default_threshold = KERAS_THRESHOLD

    def __init__(self, path: str | Path):
        from ..training import load_model

        self.name = f"keras:{path}"
        self.model = load_model(path)
        self.channels_first, self.size = _input_layout(self.model, path)

    def __repr__(self) -> str:
        return f"KerasEmbedder({self.name!r}, size={self.size}, channels_first={self.channels_first})"

    def __call__(self, pixels: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
        from PIL import Image

        image = Image.fromarray(pixels)
        return self._embed([image.crop(_grow(box, KERAS_CROP_MARGIN, pixels.shape)) for box in boxes])

    def whole(self, pixels: np.ndarray) -> np.ndarray:
        """Embed an image that is one face (resized to the model's input)."""
        from PIL import Image

        return self._embed([Image.fromarray(pixels)])

    def _embed(self, crops) -> np.ndarray:
        from PIL import Image

        height, width = self.size
        batch = np.stack([np.asarray(crop.resize((width, height), Image.BILINEAR), dtype=np.float32) / 255.0
                          for crop in crops])
        if self.channels_first:
            batch = batch.transpose(0, 3, 1, 2)
        output = np.asarray(self.model(batch, training=False), dtype=np.float32)
        return output.reshape(len(crops), -1)


def _input_layout(model, path) -> tuple[bool, tuple[int, int]]:
    shape = tuple(model.inputs[0].shape) if getattr(model, "inputs", None) else ()
    if len(shape) == 4 and shape[3] == 3 and shape[1] and shape[2]:
        return False, (int(shape[1]), int(shape[2]))
    if len(shape) == 4 and shape[1] == 3 and shape[2] and shape[3]:
        return True, (int(shape[2]), int(shape[3]))
    raise ModelError(f"{path} takes input of shape {shape}; a face embedder must take RGB images "
                     "(batch, height, width, 3) or (batch, 3, height, width) of a fixed size.")


def _grow(box, margin: float, shape) -> tuple[int, int, int, int]:
    left, top, right, bottom = box
    dx, dy = margin * (right - left), margin * (bottom - top)
    return (max(0, round(left - dx)), max(0, round(top - dy)),
            min(shape[1], round(right + dx) + 1), min(shape[0], round(bottom + dy) + 1))


def make_embedder(spec: str):
    """Build the embedder an `--embedder` value names: `dlib` or `keras:PATH`.

    Raises:
        ConfigError: an unknown name. ModelError: the Keras file is missing or unusable.
    """
    if spec == "dlib":
        return DlibEmbedder()
    if spec.startswith("keras:") and len(spec) > len("keras:"):
        return KerasEmbedder(spec[len("keras:"):])
    raise ConfigError(f"unknown embedder {spec!r}; use 'dlib' or 'keras:PATH' (a .keras face model).")


def normalize_spec(spec: str) -> str:
    """`dlib`, or `keras:` with an absolute path so the index works from any folder.

    Raises:
        ConfigError: neither form.
    """
    if spec == "dlib":
        return spec
    if spec.startswith("keras:") and len(spec) > len("keras:"):
        return f"keras:{Path(spec[len('keras:'):]).resolve()}"
    raise ConfigError(f"unknown embedder {spec!r}; use 'dlib' or 'keras:PATH' (a .keras face model).")


def embedder_metric(spec: str) -> tuple[str, float]:
    """The distance and default threshold of an embedder, without loading it."""
    embedder = DlibEmbedder if spec == "dlib" else KerasEmbedder
    return embedder.metric, embedder.default_threshold
