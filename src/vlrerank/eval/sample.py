"""A small bundled labelled set in the BEIR layout, so ``vlrerank eval`` runs out of the box.

The images and relevance labels are the resolution study's sample (:mod:`vlrerank.study.sample`:
scikit-image photos and generated products, art and documents, labels true by construction),
downscaled to 640x480. A deliberately weak first-stage run (``run.trec``) gives each query its
category's eight images plus four others in a shuffled order, so reranking has something to fix.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (640, 480)
EXTRA_CANDIDATES = 4
_README = """\
# vlrerank eval sample

A SAMPLE for trying `vlrerank eval`, not a benchmark: {documents} images, {queries} queries, relevance
labels true by construction, far too few pairs for conclusions. Layout (BEIR/MTEB):

- `corpus.jsonl`: one document per line (`_id`, `image`, a `text` naming its category)
- `queries.jsonl`: one query per line (`_id`, `text`)
- `qrels/test.tsv`: `query-id`, `corpus-id`, `score` (1 = relevant)
- `run.trec`: a weak, shuffled first-stage run (`qid Q0 docid rank score tag`) to rerank

Try: `vlrerank eval run {directory} --run {directory}/run.trec --out {directory}/results`.
Images come from the resolution-study sample (see `LICENSES.md`), downscaled to {width}x{height}.
Regenerate with `vlrerank.eval.sample.write_sample(directory, seed={seed})`.
"""


def write_sample(directory: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Write corpus.jsonl, queries.jsonl, qrels/test.tsv, run.trec, images/, README.md and
    LICENSES.md into ``directory``; return the directory."""
    from ..study.sample import write_sample as write_study_sample

    root = Path(directory)
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        manifest = write_study_sample(scratch, seed=seed)
        with manifest.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        for image in sorted({r["image"] for r in rows}):
            target = root / Path(image).with_suffix(".jpg")
            target.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(Path(scratch) / image) as picture:
                picture.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS).save(target, quality=90)
        licences = (Path(scratch) / "LICENSES.md").read_text(encoding="utf-8")
        note = (
            f"\nFor the eval sample every image below was downscaled to {SIZE[0]}x{SIZE[1]} and saved "
            "as JPEG (`images/<category>/<name>.jpg`); sources and licences are unchanged.\n"
        )
        head, _, table = licences.partition("\n| File |")
        (root / "LICENSES.md").write_text(head + note + "\n| File |" + table, encoding="utf-8")
    documents = sorted({(r["image"], r["category"]) for r in rows})
    ids = {image: Path(image).with_suffix("").as_posix().removeprefix("images/") for image, _ in documents}
    with (root / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for image, category in documents:
            path = Path(image).with_suffix(".jpg").as_posix()
            entry = {"_id": ids[image], "image": path, "text": f"category: {category}"}
            handle.write(json.dumps(entry) + "\n")
    queries = {r["group"]: r["query"] for r in rows}
    with (root / "queries.jsonl").open("w", encoding="utf-8") as handle:
        for query_id, text in sorted(queries.items()):
            handle.write(json.dumps({"_id": query_id, "text": text}) + "\n")
    with (root / "qrels" / "test.tsv").open("w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for r in rows:
            if int(r["relevant"]):
                handle.write(f"{r['group']}\t{ids[r['image']]}\t1\n")
    rng = np.random.default_rng(seed)
    with (root / "run.trec").open("w", encoding="utf-8") as handle:
        for query_id in sorted(queries):
            own = [ids[r["image"]] for r in rows if r["group"] == query_id]
            others = sorted(set(ids.values()) - set(own))
            chosen = own + list(rng.choice(others, EXTRA_CANDIDATES, replace=False))
            for rank, document_id in enumerate(rng.permutation(chosen), start=1):
                handle.write(f"{query_id} Q0 {document_id} {rank} {1.0 / rank:.4f} shuffled\n")
    readme = _README.format(
        documents=len(documents),
        queries=len(queries),
        directory=root,
        width=SIZE[0],
        height=SIZE[1],
        seed=seed,
    )
    (root / "README.md").write_text(readme, encoding="utf-8")
    return root
