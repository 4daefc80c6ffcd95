"""`mlkit faces`: index a gallery of faces, match query faces against it, evaluate a threshold."""

import csv
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from mlkit.experiments.faces import EVALUATE_METRICS, EvaluateConfig, IndexConfig, MatchConfig
from mlkit.faces.embedders import DLIB_THRESHOLD, KERAS_THRESHOLD
from mlkit.faces.index import MAX_CLUSTERS
from mlkit.faces.matching import MAX_TOP_K
from mlkit.faces.pipeline import MAX_WORKERS, FaceOptions

from ._options import ExpectOption, JsonOption, QuietOption, SeedOption, finite
from ._output import expectations, finish, make_table, print_tables

# Characters the query and match columns may take unfolded together, out of 80: the gallery
# files fold instead (a table wider than the terminal would be cut).
WHOLE_WIDTH = 48

app = typer.Typer(no_args_is_help=True, help="Face retrieval: embeddings, clusters and an inverted index.")


class Method(str, Enum):
    nearest = "nearest"
    centroid = "centroid"


EmbedderOption = Annotated[str, typer.Option(
    "--embedder", help="dlib (128-d ResNet, offline) or keras:PATH (a .keras face model).")]
LargestOption = Annotated[bool, typer.Option("--largest", help="Only the largest face of each image.")]
WorkersOption = Annotated[int, typer.Option(
    "--workers", min=1, max=MAX_WORKERS, help="Processes embedding in parallel (dlib).")]
ClustersOption = Annotated[int | None, typer.Option(
    "--clusters", min=1, max=MAX_CLUSTERS, help="KMeans clusters; default: best silhouette score for 2..--max-clusters.")]
UpdateOption = Annotated[bool, typer.Option(
    "--update", help="Add new gallery images to the existing --out index, keeping old embeddings (and its permissions).")]
CroppedOption = Annotated[bool, typer.Option(
    "--assume-cropped", help="Each image is one face (a gallery of crops): skip detection; matching does the same.")]
QueryCroppedOption = Annotated[bool | None, typer.Option(
    "--assume-cropped/--detect", help="Each query image is one face, or detect faces; default: as the index was made.")]
ThresholdOption = Annotated[float | None, typer.Option("--threshold", parser=finite(0.0), help=(
    f"Largest distance that still matches; default: the embedder's (dlib {DLIB_THRESHOLD} Euclidean, "
    f"keras {KERAS_THRESHOLD} cosine)."))]
MethodOption = Annotated[Method, typer.Option(
    "--method", help="nearest: closest gallery faces; centroid: closest cluster centre (the seed's).")]


def _face_options(largest: bool, assume_cropped: bool, workers: int):
    return FaceOptions(largest=largest, assume_cropped=assume_cropped, workers=workers)


@app.command("index")
def index(
    gallery: Annotated[Path, typer.Argument(help="Folder of gallery images (DIR/<name>/*.jpg names people by folder).")],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help="Index file to write (HDF5).")],
    embedder: EmbedderOption = IndexConfig.embedder,
    clusters: ClustersOption = None,
    max_clusters: Annotated[int, typer.Option(
        "--max-clusters", min=2, max=MAX_CLUSTERS, help="Largest K tried without --clusters.")] = IndexConfig.max_clusters,
    update: UpdateOption = False,
    largest: LargestOption = False,
    assume_cropped: CroppedOption = False,
    workers: WorkersOption = FaceOptions.workers,
    seed: SeedOption = IndexConfig.seed,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Embed every face of a gallery folder, cluster them with KMeans and write one index file.

    Images where no face is detected are embedded whole (reported as whole-image); files that
    are not images are skipped with a warning. --seed seeds KMeans.

    Example: mlkit faces index ../shared/data/faces/csc420_a5/saved_faces --out faces.h5 --assume-cropped
    """
    from mlkit.experiments.faces import run_index

    config = IndexConfig(gallery=gallery, out=out, embedder=embedder, clusters=clusters, max_clusters=max_clusters,
                         update=update, seed=seed, faces=_face_options(largest, assume_cropped, workers), quiet=quiet)
    result = run_index(config)
    finish(result.record(), json=json, render=lambda: _print_index(result), quiet=quiet)


def _print_index(result) -> None:
    sources = result.box_sources
    tables = [
        make_table(f"Face index {Path(result.config.out).name}",
                   ["images", "faces", "detected", "whole image", "skipped", "seconds", "images/s"],
                   [[result.images, result.faces, sources.get("detected", 0),
                     sources.get("whole-image", 0) + sources.get("assumed-cropped", 0), result.skipped,
                     result.seconds, result.images_per_second]]),
        make_table("Clusters", ["cluster", "faces", "first files"],
                   [[row["cluster"], row["faces"], ", ".join(row["files"][:4])] for row in result.clusters]),
    ]
    if result.silhouettes:
        tables.append(make_table("Silhouette score per K", ["K", "silhouette"], list(map(list, result.silhouettes.items()))))
    print_tables(*tables)


@app.command("match")
def match(
    queries: Annotated[list[Path], typer.Argument(help="Query images or folders of them.")],
    index: Annotated[Path, typer.Option("--index", dir_okay=False, help="Index file from `mlkit faces index`.")],
    method: MethodOption = Method.nearest,
    threshold: ThresholdOption = None,
    top_k: Annotated[int, typer.Option(
        "--top-k", min=1, max=MAX_TOP_K, help="Gallery faces listed per query (--method nearest).")] = MatchConfig.top_k,
    csv_output: Annotated[bool, typer.Option("--csv", help="Print CSV (file,match,distance) instead of a table.")] = False,
    largest: LargestOption = False,
    assume_cropped: QueryCroppedOption = None,
    workers: WorkersOption = FaceOptions.workers,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Match each face of the query images to the index; None when no match is within --threshold.

    Example: mlkit faces match ../shared/data/faces/csc420_a5/input_faces --index faces.h5 --method centroid
    """
    from mlkit.experiments.faces import run_match

    if json and csv_output:
        raise typer.BadParameter("give --json or --csv, not both.", param_hint="--csv")
    config = MatchConfig(queries=queries, index=index, method=method.value, threshold=threshold, top_k=top_k,
                         assume_cropped=assume_cropped, faces=_face_options(largest, False, workers), quiet=quiet)
    result = run_match(config)
    finish(result.record(), json=json, render=lambda: (_write_csv if csv_output else _print_matches)(result),
           quiet=quiet)


def _write_csv(result) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["file", "match", "distance"])
    for row in result.matches:
        writer.writerow([row["file"], _shown(row["match"]), f"{row['distance']:.4f}"])


def _print_matches(result) -> None:
    """One row per query face, named by its base name, readable at 80 columns."""
    faces_per_file = {}
    for row in result.matches:
        faces_per_file[row["file"]] = faces_per_file.get(row["file"], 0) + 1
    rows = [[_query_cell(row, faces_per_file[row["file"]]), _shown(row["match"]), row["distance"],
             _files_cell(row["files"])] for row in result.matches]
    table = make_table(f"Matches ({result.method}, {result.metric} distance <= {result.threshold:g})",
                       ["query", "match", "distance", "gallery files"], rows)
    used = 0
    for column in (0, 1):  # query, then match, stay on one line while they fit
        width = max(len(row[column]) for row in rows)
        if used + width <= WHOLE_WIDTH:
            table.columns[column].no_wrap = True
            used += width
    print_tables(table)


def _query_cell(row: dict, faces: int) -> str:
    name = Path(row["file"]).name
    return name if faces == 1 else f"{name} #{row['face'] + 1}"


def _shown(match: str | None) -> str:
    return "None" if match is None else match


def _files_cell(files: list[str]) -> str:
    return ", ".join(files[:3]) + (f" (+{len(files) - 3})" if len(files) > 3 else "")


@app.command("evaluate")
def evaluate(
    folder: Annotated[Path, typer.Argument(help="Labelled faces: DIR/<identity>/*.jpg.")],
    embedder: EmbedderOption = EvaluateConfig.embedder,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", parser=finite(0.0), help="Threshold to score; default: the embedder's.")] = None,
    assume_cropped: Annotated[bool, typer.Option("--assume-cropped", help="Each image is one face: skip detection.")] = False,
    workers: WorkersOption = FaceOptions.workers,
    expect: ExpectOption = None,
    json: JsonOption = False,
    quiet: QuietOption = False,
):
    """Leave-one-out identification accuracy, rejection of unknown people, and a suggested threshold.

    Each face is a query against all the others (known person), then with its own person removed
    (unknown person). Only the largest face of each image is used.

    Example: mlkit faces evaluate my_faces/ --expect 'identification_accuracy>=0.9' --json
    """
    from mlkit.experiments.faces import run_evaluate

    targets = expectations(expect, EVALUATE_METRICS)
    config = EvaluateConfig(folder=folder, embedder=embedder, threshold=threshold,
                            faces=_face_options(True, assume_cropped, workers), quiet=quiet)
    result = run_evaluate(config)
    finish(result.record(), json=json, expect=targets, render=lambda: _print_evaluation(result), quiet=quiet)


def _print_evaluation(result) -> None:
    measures = (("threshold", "threshold"), ("open-set accuracy", "open_set_accuracy"),
                ("known identified", "known_identified"), ("rejection precision", "rejection_precision"),
                ("rejection recall", "rejection_recall"))
    rows = [[label, result.at_threshold[key], result.suggested[key]] for label, key in measures]
    print_tables(make_table(f"{result.people} people, {result.faces} faces, {result.metric} distance; "
                            f"identification accuracy {result.identification_accuracy:.4f}",
                            ["", "current", "suggested"], rows))
