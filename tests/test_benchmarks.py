"""Every benchmark still runs: each at a tiny size, as a user runs it, to the end of its table.

A benchmark is not part of the suite's figures, so a change that breaks one (a helper renamed,
a decorator moved off the function it cached) went unseen until someone measured. These runs
check only that each completes (exit 0, no traceback) and prints its table; the figures are
too small to mean anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

RUNS = [
    ("bench_config.py", ["--subscribers", "40"], "libyaml (shipped)"),
    ("bench_matching.py", ["--sizes", "60x30"], "summary: papers=60 subscribers=30"),
    ("bench_preview.py", ["--papers", "40", "--repeat", "1"], "POST /preview"),
    ("bench_relevance.py", [], "summary: personas=14"),
    ("bench_seeded.py", ["--papers", "60", "--subscribers", "20"], "keywords + 3 likes"),
    ("bench_send.py", ["--subscribers", "30", "--papers", "60"], "outbox"),
    ("bench_sync.py", ["--sizes", "20"], "hand-over"),
    ("bench_trending.py", ["--papers", "60", "--subscribers", "20"], "trending 10"),
]


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize(("script", "args", "expect"), RUNS, ids=[r[0] for r in RUNS])
def test_benchmark_runs_to_its_table(script, args, expect):
    assert expect in run(script, *args)


def test_relevance_variants_run_on_a_small_labelled_set(tmp_path):
    """The variants script patches relevance.py's internals: a rename there breaks it. Run on
    two personas over 30 papers of the hold-out set (the whole run takes minutes)."""
    source = ROOT / "data" / "relevance-holdout"
    personas = yaml.safe_load((source / "personas.yaml").read_text(encoding="utf-8"))["personas"][:2]
    papers = [json.loads(line) for line in (source / "papers.jsonl").read_text(encoding="utf-8").splitlines()]
    liked = {aid for p in personas for aid in p["likes"]}
    kept = [p for p in papers if p["arxiv_id"] in liked] + [p for p in papers if p["arxiv_id"] not in liked][
        :26
    ]
    ids = {p["arxiv_id"] for p in kept}
    for persona in personas:
        persona["labels"] = {aid: grade for aid, grade in persona["labels"].items() if aid in ids}
    (tmp_path / "papers.jsonl").write_text("".join(json.dumps(p) + "\n" for p in kept), encoding="utf-8")
    (tmp_path / "personas.yaml").write_text(yaml.safe_dump({"personas": personas}), encoding="utf-8")
    out = run("bench_relevance_variants.py", "--data", str(tmp_path))
    assert "shipped" in out and "exemplar SVM" in out


def test_feed_guard_benchmark_runs():
    assert "refused" in run("bench_feed_guard.py", "--n", "50")


def test_workers_benchmark_runs_with_a_kill(pg_server):
    """It starts its own PostgreSQL; `pg_server` only skips (or fails, in CI) without one."""
    out = run("bench_workers.py", "--subscribers", "200", "--papers", "200", "--workers", "1")
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["1"], ["2"])]
    # The kill row: on a loaded machine the first worker may finish before a tenth arrived.
    assert [r[0] for r in rows] == ["1", "2"] and rows[0][1] == "0" and rows[1][1] in ("0", "1"), out
    assert rows[0][-2:] == ["0", "0"], out  # no duplicates, nothing lost
    # Killed: nothing lost, and at most the one message the dead worker had handed to the relay
    # and not yet recorded as sent, again with its Message-ID (README, Scaling: "the window
    # allows one"); the faster a digest's round trips, the likelier the kill lands in it.
    assert rows[1][-1] == "0" and rows[1][-2] in ("0", "1"), out
