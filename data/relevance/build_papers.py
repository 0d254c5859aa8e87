"""Write ``data/relevance/papers.jsonl`` from the seed corpus.

One JSON object per distinct seed paper, ``{"arxiv_id", "title", "abstract"}``, in first-seen
order (seed files in name order, duplicates dropped by title). Parsing, de-duplication and the
synthetic arXiv ids all come from ``scripts/make_sample_feed.py``, so the ids here are the ids in
the bundled sample feed ``digestbot/samples/sample-feed.xml``.

Usage::

    python data/relevance/build_papers.py [--seeds DIR] [--out FILE]

Standard library only (plus the sample-feed script). Deterministic: running it twice gives
byte-identical output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import make_sample_feed  # noqa: E402

DEFAULT_SEEDS = ROOT / "data" / "seeds"
DEFAULT_OUT = Path(__file__).resolve().parent / "papers.jsonl"


def build_records(seeds_dir: Path) -> list[dict[str, str]]:
    """Return one record per distinct seed paper, with the sample feed's arXiv id."""
    papers = make_sample_feed.read_seeds(seeds_dir)
    records = []
    for index, paper in enumerate(papers):
        item = make_sample_feed.make_item(paper, index)
        records.append({"arxiv_id": item.arxiv_id, "title": paper.title, "abstract": paper.abstract})
    return records


def render(records: Sequence[dict[str, str]]) -> str:
    """Render records as JSON Lines (UTF-8, one object per line, trailing newline)."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


def main(argv: Sequence[str] | None = None) -> int:
    """Read the seeds and write the JSON Lines file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="folder of seed *.txt files")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON Lines file to write")
    args = parser.parse_args(argv)
    records = build_records(args.seeds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(records), encoding="utf-8", newline="\n")
    print(f"wrote {len(records)} papers to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
