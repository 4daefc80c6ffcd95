"""Seed 000's filter: sepia toning folded into a Gaussian blur, as one fixed Conv2D layer.

Both steps are linear, so they compose into one size x size x 3 -> 3 kernel,
W[i, j, c_in, c_out] = G[i, j] * S[c_out, c_in] (G the normalised Gaussian, S the sepia
matrix), and a single `valid` convolution does both: 128x128 pixels in, 124x124 out with
size 5. `reference_filter` computes the same sums in NumPy, to check the layer.
"""

import numpy as np

from .errors import ConfigError

# Sepia toning, one row per output channel (R, G, B), one column per input channel (R, G, B):
# the matrix of `sepia(1)` in the W3C Filter Effects Module Level 1
# (https://www.w3.org/TR/filter-effects-1/#funcdef-filter-sepia). Seed 000 wrote out its
# last row (.272, .534, .131). Rows sum to 1.351, 1.203 and 0.937, so bright pixels saturate
# and the output is clipped to 0..255.
SEPIA = np.array([[0.393, 0.769, 0.189],
                  [0.349, 0.686, 0.168],
                  [0.272, 0.534, 0.131]])
MAX_SIZE = 31
REFERENCE_BLOCK_BYTES = 64 << 20


def check_kernel_settings(size: int, sigma: float) -> None:
    """Refuse a kernel no filter can use.

    Raises:
        ConfigError: size not odd in 1..MAX_SIZE (an even kernel has no centre pixel), or sigma
            not a finite number above 0.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size <= MAX_SIZE \
            or size % 2 == 0:
        raise ConfigError(f"--size must be an odd whole number from 1 to {MAX_SIZE}, got {size!r}.")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ConfigError(f"--sigma must be a finite number above 0, got {sigma!r}.")


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """A (size, size) Gaussian of standard deviation `sigma` pixels, centred, summing to 1."""
    check_kernel_settings(size, sigma)
    offsets = np.arange(size) - (size - 1) / 2
    with np.errstate(over="ignore"):  # a tiny sigma: the off-centre weights underflow to 0
        profile = np.exp(-0.5 * (offsets / sigma) ** 2)
    grid = np.outer(profile, profile)
    return grid / grid.sum()  # the centre weight is 1 before normalising, so the sum is >= 1


def sepia_blur_kernel(size: int, sigma: float) -> np.ndarray:
    """The (size, size, 3, 3) Conv2D kernel, in Keras' [row, column, input, output] order."""
    return np.einsum("ij,oc->ijco", gaussian_kernel(size, sigma), SEPIA)


def build_filter_model(kernel: np.ndarray):
    """A Keras model of one Conv2D layer holding `kernel` as fixed (untrainable) weights.

    Any image height and width goes in; each side comes out `size - 1` pixels shorter.
    """
    import keras

    size = kernel.shape[0]
    inputs = keras.Input(shape=(None, None, 3), name="image")
    layer = keras.layers.Conv2D(3, size, padding="valid", use_bias=False, trainable=False, name="sepia_blur")
    model = keras.Model(inputs, layer(inputs), name="sepia_blur_filter")
    layer.set_weights([kernel.astype("float32")])
    return model


def apply_filter(model, pixels: np.ndarray) -> np.ndarray:
    """Run the layer on one (height, width, 3) image; returns float32 values, not clipped."""
    batch = np.asarray(pixels, dtype=np.float32)[None]
    return np.asarray(model(batch, training=False))[0]


def reference_filter(pixels: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The layer's sums in float64 NumPy, without Keras: out[y, x, o] = sum over i, j, c of
    pixels[y + i, x + j, c] * kernel[i, j, c, o] (a `valid` cross-correlation, as Conv2D)."""
    from numpy.lib.stride_tricks import sliding_window_view

    size = kernel.shape[0]
    windows = sliding_window_view(np.asarray(pixels, dtype=np.float64), (size, size), axis=(0, 1))
    kernel = np.asarray(kernel, dtype=np.float64)
    out = np.empty((*windows.shape[:2], kernel.shape[3]))
    # A few output rows at a time: tensordot copies its block of windows, size*size times the pixels.
    rows = max(1, REFERENCE_BLOCK_BYTES // (windows[0].size * 8))
    for start in range(0, len(windows), rows):
        # windows are [y, x, c, i, j]; the kernel is [i, j, c, o].
        out[start:start + rows] = np.tensordot(windows[start:start + rows], kernel, axes=([2, 3, 4], [2, 0, 1]))
    return out


def to_pixels(values: np.ndarray) -> np.ndarray:
    """Filter output as uint8 pixels: rounded and clipped to 0..255 (sepia brightens)."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
