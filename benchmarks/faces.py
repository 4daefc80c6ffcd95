"""Issue 8's "Done when" on the real faces: index time, matches against the seed's, happy_house cameras.

Indexes ../shared/data/faces/csc420_a5/saved_faces (200 crops) with face detection (1 and 2
workers) and with --assume-cropped (K=6 and K by silhouette), matches the 7 input_faces by
centroid (the seed's method) and by nearest face, compares each answer with the seed student's
matching.csv (overlap of the answered file sets), then indexes the 12 named happy_house people
and matches the camera shots. `seconds` is reading and embedding the images (models loaded
included), `wall_seconds` the whole index run. Run it under the CPU lock:

    flock /tmp/mlkit-cpu.lock .venv/bin/python benchmarks/faces.py --out faces-benchmark.json
"""

import argparse
import ast
import csv
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlkit.experiments.faces import IndexConfig, MatchConfig, run_index, run_match  # noqa: E402
from mlkit.faces.pipeline import FaceOptions  # noqa: E402
from mlkit.files import write_text  # noqa: E402
from mlkit.results import to_jsonable  # noqa: E402

FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
CAMERAS = {"camera_0.jpg": "younes", "camera_1.jpg": "bertrand", "camera_2.jpg": "benoit"}


def seed_answers(path: Path) -> dict[str, set[str]]:
    """The seed's matching.csv: query file -> the gallery files it answered (empty for 'no matches')."""
    with open(path, newline="") as handle:
        return {row["input_img"]: set() if row["matching_imgs"] == "no matches" else set(ast.literal_eval(row["matching_imgs"]))
                for row in csv.DictReader(handle)}


def compare(matches: list[dict], seed: dict[str, set[str]]) -> list[dict]:
    rows = []
    for match in matches:
        name = Path(match["file"]).name
        ours, theirs = set(match["files"]), seed.get(name, set())
        union = ours | theirs
        rows.append({"query": name, "match": match["match"], "distance": round(match["distance"], 4),
                     "seed_none": not theirs, "our_files": len(ours), "seed_files": len(theirs),
                     "overlap": len(ours & theirs), "jaccard": round(len(ours & theirs) / len(union), 3) if union else 1.0,
                     "first_file_in_seed_answer": bool(match["files"]) and match["files"][0] in theirs})
    return rows


def index_time(gallery: Path, out: Path, workers: int, clusters: int | None, cropped: bool) -> dict:
    result = run_index(IndexConfig(gallery=gallery, out=out, clusters=clusters, quiet=True,
                                   faces=FaceOptions(workers=workers, assume_cropped=cropped)))
    return {"workers": workers, "assume_cropped": cropped, "clusters": len(result.clusters),
            "seconds": round(result.seconds, 2), "wall_seconds": round(result.wall_seconds, 2),
            "images_per_second": round(result.images_per_second, 2),
            "box_sources": result.box_sources, "cluster_sizes": [c["faces"] for c in result.clusters],
            "silhouettes": {k: round(v, 4) for k, v in result.silhouettes.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the results here (JSON)")
    parser.add_argument("--top-k", type=int, default=10, help="gallery faces listed per query for --method nearest")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="faces-benchmark-"))
    a5 = FACES / "csc420_a5"
    runs = [("detect", 2, 6, False), ("detect-1-worker", 1, 6, False), ("cropped", 2, 6, True),
            ("cropped-auto-k", 2, None, True)]
    report = {"index": {name: index_time(a5 / "saved_faces", work / f"{name}.h5", workers, k, cropped)
                        for name, workers, k, cropped in runs}}
    seed = seed_answers(a5 / "matching.csv")
    for name, method in (("detect", "centroid"), ("cropped", "centroid"), ("cropped", "nearest")):
        result = run_match(MatchConfig(queries=[a5 / "input_faces"], index=work / f"{name}.h5", method=method,
                                       top_k=args.top_k, quiet=True))
        report[f"match_{name}_{method}"] = {"threshold": result.threshold, "rows": compare(result.matches, seed)}
    named = work / "happy_house_named"
    named.mkdir()
    for image in (FACES / "happy_house").iterdir():
        if not image.name.startswith("camera_"):
            shutil.copy(image, named)
    run_index(IndexConfig(gallery=named, out=work / "house.h5", quiet=True))
    cameras = sorted((FACES / "happy_house").glob("camera_*"))
    result = run_match(MatchConfig(queries=cameras, index=work / "house.h5", quiet=True))
    report["happy_house"] = [{"query": Path(m["file"]).name, "match": m["match"], "distance": round(m["distance"], 4),
                              "expected": CAMERAS.get(Path(m["file"]).name)} for m in result.matches]
    text = json.dumps(to_jsonable(report), indent=2)
    print(text)
    if args.out:
        write_text(args.out, text + "\n")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
