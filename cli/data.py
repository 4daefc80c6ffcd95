"""`mlkit data`: see where datasets resolve, export them to HDF5, inspect HDF5 files."""

from pathlib import Path
from typing import Annotated

import typer

from ._options import DataDirOption, JsonOption, QuietOption
from ._output import finish, make_table, print_tables

app = typer.Typer(no_args_is_help=True, help="List, export and inspect datasets.")


@app.command("list")
def list_datasets(data_dir: DataDirOption = None, json: JsonOption = False):
    """Show each dataset and where it resolves (data dir, Keras cache), or why not.

    Example: mlkit data list --data-dir ../shared/data
    """
    from mlkit.data import describe_sources
    from mlkit.record import Record

    rows = describe_sources(data_dir)
    found = sum(row["found"] for row in rows)
    record = Record("data list", {"data_dir": data_dir}, {"datasets": len(rows), "found": found},
                    sections={"datasets": rows})
    finish(record, json=json, render=lambda: print_tables(make_table(
        "Datasets", ["name", "resolves from", "path or note"],
        [[r["name"], r["where"], r["path"] or r["note"]] for r in rows])))


@app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="mnist, fashion-mnist or cifar10.")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="HDF5 file to write.")],
    data_dir: DataDirOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Write a named dataset to an mlkit HDF5 file (see docs/formats.md).

    The file's checksum is the dataset's fingerprint, so `data info` on it reports the same one.

    Example: mlkit data export cifar10 --out cifar10.h5
    """
    from mlkit.data import load_named, save_dataset
    from mlkit.files import check_output_path
    from mlkit.record import Record, file_entry

    check_output_path(out, "--out")  # before the dataset is read: it can be hundreds of MB
    dataset = load_named(name, data_dir)
    save_dataset(dataset, out)
    summary = dataset.summary()
    record = Record("data export", {"name": name, "out": out, "data_dir": data_dir}, _counts(summary),
                    data=_data_block(dataset, dataset.source), files=[file_entry(out, "dataset")],
                    sections={"summary": summary})
    finish(record, json=json, render=lambda: _print_summary(summary), quiet=quiet)


@app.command("info")
def info(
    path: Annotated[Path, typer.Argument(dir_okay=False, help="An mlkit HDF5 dataset.")],
    json: JsonOption = False,
):
    """Shapes, dtypes and per-class counts of an HDF5 dataset (its checksum is verified).

    Example: mlkit data info cifar10.h5 --json
    """
    from mlkit.data import load_dataset_file
    from mlkit.record import Record, file_sha256

    dataset = load_dataset_file(path)
    summary = dataset.summary()
    record = Record("data info", {"path": path}, _counts(summary),
                    data=_data_block(dataset, path, file_sha256=file_sha256(path)), sections={"summary": summary})
    finish(record, json=json, render=lambda: _print_summary(summary))


def _counts(summary: dict) -> dict:
    """The record's metrics for one dataset: how many images and classes it holds."""
    train, test = summary["train"]["images"], summary["test"]["images"]
    return {"images": train + test, "train_images": train, "test_images": test, "classes": summary["num_classes"]}


def _data_block(dataset, source, **details) -> dict:
    from mlkit.record import data_block

    return data_block(dataset.name, source, dataset.fingerprint(), **details)


def _print_summary(summary: dict) -> None:
    splits = make_table(f"{summary['name']} ({Path(summary['source']).name or summary['source']})",
                        ["split", "images", "shape", "dtype"], [
        [split, summary[split]["images"], "x".join(map(str, summary[split]["shape"])), summary[split]["dtype"]]
        for split in ("train", "test")
    ])
    counts = make_table("Images per class", ["class", "train", "test"], [
        [name, summary["train"]["class_counts"][name], summary["test"]["class_counts"][name]]
        for name in summary["class_names"]
    ])
    print_tables(splits, counts)
