"""`mlkit filter`: seed 000's sepia toning and Gaussian blur as one fixed Conv2D layer."""

from pathlib import Path
from typing import Annotated

import typer

# Keras-free at import, and it keeps the defaults in one place.
from mlkit.experiments.filter import FilterConfig
from mlkit.filters import MAX_SIZE

from ._options import JsonOption, QuietOption, finite
from ._output import finish, make_table, print_tables

DEFAULTS = FilterConfig(image=Path(), out=Path())


def filter_image(
    image: Annotated[Path, typer.Argument(help="The image to filter: any size and mode "
                                          "Pillow reads (grey, RGB, RGBA, palette).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Write the filtered image here (.png).")],
    sigma: Annotated[float, typer.Option("--sigma", parser=finite(0.0, low_open=True),
                                         help="The Gaussian's standard deviation, in pixels.")] = DEFAULTS.sigma,
    size: Annotated[int, typer.Option("--size", min=1, max=MAX_SIZE,
                                      help=f"The kernel's side in pixels, odd, 1 to {MAX_SIZE}.")] = DEFAULTS.size,
    check: Annotated[bool, typer.Option("--check", help="Compute the output again with NumPy and exit 3 if any "
                                        f"value differs by more than {DEFAULTS.tolerance:g} (0..255 scale).")] = False,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Filter an image with seed 000's sepia toning and Gaussian blur, done by one Keras Conv2D
    layer with fixed weights.

    The two linear steps fold into one size x size x 3 -> 3 kernel, W(i, j, c_in, c_out) =
    G(i, j) * S(c_out, c_in) (G the Gaussian, S the W3C sepia matrix), applied with `valid`
    padding: each side of the output is size - 1 pixels shorter (128x128 -> 124x124 with
    size 5). Grey images are read as three equal channels and alpha is dropped; the output
    is clipped to 0..255. --json includes the kernel.

    Example: mlkit filter photo.jpg --out sepia.png --check
    """
    from mlkit.experiments.filter import run

    result = run(FilterConfig(image=image, out=out, sigma=sigma, size=size, check=check))
    finish(result.record(), json=json, render=lambda: _render(result), quiet=quiet)
    if result.passed is False:
        typer.echo(f"Error: check failed: the layer and NumPy differ by up to {result.max_difference:.3g}, "
                   f"more than the tolerance {result.config.tolerance:g}.", err=True)
        raise typer.Exit(3)


def _render(result) -> None:
    (in_height, in_width), (out_height, out_width) = result.input_shape, result.output_shape
    size = result.config.size
    if result.passed is None:
        check = "not run (--check runs it)"
    else:
        check = (f"{'passed' if result.passed else 'FAILED'}: largest difference {result.max_difference:.2e} "
                 f"(tolerance {result.config.tolerance:g})")
    rows = [["input", f"{in_width}x{in_height} pixels ({result.source_mode})"],
            ["output", f"{out_width}x{out_height} pixels"],
            ["kernel", f"{size}x{size}x3 -> 3 (one Conv2D layer, valid padding)"],
            ["sigma", f"{result.config.sigma:g}"],
            ["layer seconds", f"{result.seconds:.3f}"],
            ["check", check]]
    print_tables(make_table(f"Sepia and Gaussian blur: {Path(result.config.image).name}", ["", "value"], rows))
