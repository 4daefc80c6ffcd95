"""`mlkit data`: see where datasets resolve, export them to HDF5, inspect HDF5 files."""

from pathlib import Path
from typing import Annotated

import typer

from ._options import DataDirOption, JsonOption
from ._output import make_table, print_json, print_tables, report_files

app = typer.Typer(no_args_is_help=True, help="List, export and inspect datasets.")


@app.command("list")
def list_datasets(data_dir: DataDirOption = None, json: JsonOption = False):
    """Show each dataset and where it resolves (data dir, Keras cache), or why not.

    Example: mlkit data list --data-dir ../shared/data
    """
    from mlkit.data import describe_sources

    rows = describe_sources(data_dir)
    if json:
        print_json({"datasets": rows})
        return
    print_tables(make_table("Datasets", ["name", "resolves from", "path or note"],
                            [[r["name"], r["where"], r["path"] or r["note"]] for r in rows]))


@app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="mnist, fashion-mnist or cifar10.")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="HDF5 file to write.")],
    data_dir: DataDirOption = None,
    json: JsonOption = False,
):
    """Write a named dataset to an mlkit HDF5 file (see docs/formats.md).

    Example: mlkit data export cifar10 --out cifar10.h5
    """
    from mlkit.data import load_named, save_dataset

    dataset = load_named(name, data_dir)
    save_dataset(dataset, out)
    summary = dataset.summary() | {"out": str(out)}
    if json:
        print_json(summary)
        return
    _print_summary(summary)
    report_files([out])


@app.command("info")
def info(
    path: Annotated[Path, typer.Argument(dir_okay=False, help="An mlkit HDF5 dataset.")],
    json: JsonOption = False,
):
    """Shapes, dtypes and per-class counts of an HDF5 dataset (its checksum is verified).

    Example: mlkit data info cifar10.h5 --json
    """
    from mlkit.data import load_dataset_file

    summary = load_dataset_file(path).summary()
    if json:
        print_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict) -> None:
    splits = make_table(f"{summary['name']} ({summary['source']})", ["split", "images", "shape", "dtype"], [
        [split, summary[split]["images"], "x".join(map(str, summary[split]["shape"])), summary[split]["dtype"]]
        for split in ("train", "test")
    ])
    counts = make_table("Images per class", ["class", "train", "test"], [
        [name, summary["train"]["class_counts"][name], summary["test"]["class_counts"][name]]
        for name in summary["class_names"]
    ])
    print_tables(splits, counts)
