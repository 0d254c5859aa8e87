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

import json
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import make_sample_feed  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "papers.jsonl"


def build_records(papers: Sequence[make_sample_feed.Paper]) -> list[dict[str, str]]:
    """Return one record per distinct seed paper, with the sample feed's arXiv id."""
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
    return make_sample_feed.write_from_seeds(
        argv,
        description=__doc__.splitlines()[0],
        default_out=DEFAULT_OUT,
        out_help="JSON Lines file to write",
        render=lambda papers: render(build_records(papers)),
    )


if __name__ == "__main__":
    raise SystemExit(main())
