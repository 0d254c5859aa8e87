"""Integrity of the labelled relevance sets: ``data/relevance/`` (the one the ranking was developed
on) and ``data/relevance-holdout/`` (an independent hold-out set); see their READMEs.

A set is only useful for measuring ranking quality if it is complete and consistent: every
persona grades every paper exactly once, liked papers are graded 2, ids are the ones in the
bundled sample feed, and ``papers.jsonl`` / ``personas.yaml`` are what their scripts produce.
The hold-out set shares the first set's papers (its ``papers.jsonl`` is a symlink to them).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REL = ROOT / "data" / "relevance"
HOLDOUT = ROOT / "data" / "relevance-holdout"
PAPERS = REL / "papers.jsonl"
FEED = ROOT / "digestbot" / "samples" / "sample-feed.xml"
SETS = pytest.mark.parametrize("relset", [REL, HOLDOUT], ids=["relevance", "holdout"], indirect=True)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (plain PyYAML keeps the last one)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def relset(request: pytest.FixtureRequest) -> Path:
    """The folder of one labelled set."""
    return request.param


@pytest.fixture(scope="module")
def papers(relset: Path) -> list[dict]:
    with (relset / "papers.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def personas(relset: Path) -> list[dict]:
    data = yaml.load((relset / "personas.yaml").read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    assert isinstance(data, dict) and set(data) == {"personas"}
    assert isinstance(data["personas"], list)
    return data["personas"]


@SETS
def test_papers_have_the_expected_shape(papers: list[dict]) -> None:
    assert len(papers) == 145
    for paper in papers:
        assert set(paper) == {"arxiv_id", "title", "abstract"}
        assert all(isinstance(v, str) and v.strip() for v in paper.values())
    assert len({p["arxiv_id"] for p in papers}) == len(papers)
    assert len({p["title"] for p in papers}) == len(papers)


def test_papers_jsonl_is_what_build_papers_writes(tmp_path: Path) -> None:
    out = tmp_path / "papers.jsonl"
    subprocess.run(
        [sys.executable, str(REL / "build_papers.py"), "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    assert out.read_bytes() == PAPERS.read_bytes()


def test_build_papers_without_seeds_says_so_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "papers.jsonl"
    result = subprocess.run(
        [sys.executable, str(REL / "build_papers.py"), "--seeds", str(tmp_path), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == f"error: no *.txt seed files in {tmp_path}\n"  # one line, no traceback
    assert not out.exists()


def test_holdout_shares_the_first_sets_papers() -> None:
    # A symlink, so the two sets cannot drift apart; the bytes are the first set's.
    assert (HOLDOUT / "papers.jsonl").is_symlink()
    assert (HOLDOUT / "papers.jsonl").resolve() == PAPERS.resolve()
    assert (HOLDOUT / "papers.jsonl").read_bytes() == PAPERS.read_bytes()


def test_the_sets_are_independent() -> None:
    # Different people: no description or keyword list is shared (three topic names are, as ids).
    first, holdout = (
        yaml.safe_load((d / "personas.yaml").read_text(encoding="utf-8"))["personas"] for d in (REL, HOLDOUT)
    )
    assert not {p["description"] for p in first} & {p["description"] for p in holdout}
    assert not {tuple(p["keywords"]) for p in first} & {tuple(p["keywords"]) for p in holdout}


@SETS
def test_ids_and_titles_match_the_sample_feed(papers: list[dict]) -> None:
    feed = {}
    for item in ET.parse(FEED).getroot().iter("item"):
        link = item.findtext("link")
        assert link is not None and link.startswith("https://arxiv.org/abs/")
        feed[link.removeprefix("https://arxiv.org/abs/")] = item.findtext("title")
    assert [p["arxiv_id"] for p in papers] == list(feed)
    for paper in papers:
        assert feed[paper["arxiv_id"]] == paper["title"]


@SETS
def test_at_least_ten_distinct_personas(personas: list[dict]) -> None:
    assert len(personas) >= 10
    ids = [p["id"] for p in personas]
    assert len(set(ids)) == len(ids)


@SETS
def test_persona_fields(personas: list[dict]) -> None:
    for persona in personas:
        assert set(persona) == {"id", "description", "keywords", "likes", "labels"}, persona.get("id")
        assert isinstance(persona["id"], str) and persona["id"]
        assert isinstance(persona["description"], str) and len(persona["description"].split()) >= 20
        keywords = persona["keywords"]
        assert isinstance(keywords, list) and 4 <= len(keywords) <= 6, persona["id"]
        assert all(isinstance(k, str) and k.strip() for k in keywords)
        assert len({k.lower() for k in keywords}) == len(keywords)


@SETS
def test_every_persona_labels_every_paper_exactly_once(papers: list[dict], personas: list[dict]) -> None:
    ids = {p["arxiv_id"] for p in papers}
    for persona in personas:
        labels = persona["labels"]
        assert isinstance(labels, dict)
        # Duplicate keys are rejected by the loader, so equal key sets means exactly once each.
        assert all(isinstance(key, str) for key in labels), persona["id"]
        assert set(labels) == ids, persona["id"]
        assert len(labels) == len(papers)


@SETS
def test_grades_and_reasons(personas: list[dict]) -> None:
    for persona in personas:
        for arxiv_id, label in persona["labels"].items():
            where = f"{persona['id']} {arxiv_id}"
            assert isinstance(label, list) and len(label) == 2, where
            grade, reason = label
            assert type(grade) is int and grade in (0, 1, 2), where
            assert isinstance(reason, str), where
            if grade > 0:
                assert reason.strip() and reason.strip().lower() != "off-topic", where


@SETS
def test_every_persona_has_relevant_papers(personas: list[dict]) -> None:
    for persona in personas:
        grades = [grade for grade, _ in persona["labels"].values()]
        assert grades.count(2) >= 2, persona["id"]
        assert grades.count(1) >= 1, persona["id"]


@SETS
def test_likes_exist_and_are_graded_two(papers: list[dict], personas: list[dict]) -> None:
    ids = {p["arxiv_id"] for p in papers}
    for persona in personas:
        likes = persona["likes"]
        assert isinstance(likes, list) and 2 <= len(likes) <= 3, persona["id"]
        assert len(set(likes)) == len(likes)
        for arxiv_id in likes:
            assert arxiv_id in ids, (persona["id"], arxiv_id)
            assert persona["labels"][arxiv_id][0] == 2, (persona["id"], arxiv_id)


@SETS
def test_personas_yaml_is_what_make_personas_writes(relset: Path, papers: list[dict]) -> None:
    # Both sets name their modules alike: import this set's, not a cached one of the other set.
    names = ("make_personas", "persona_labels", "persona_profiles")
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    sys.path.insert(0, str(relset))
    try:
        make_personas = _load_module("make_personas", relset / "make_personas.py")
        assert make_personas.render(papers) == (relset / "personas.yaml").read_text(encoding="utf-8")
    finally:
        sys.path.remove(str(relset))
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def test_bench_relevance_reads_either_set() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_relevance as bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    for folder in (REL, HOLDOUT):
        papers, personas = bench.load(folder)
        on_disk = yaml.safe_load((folder / "personas.yaml").read_text(encoding="utf-8"))["personas"]
        assert [p.id for p in personas] == [p["id"] for p in on_disk]
        assert len(papers) == 145 and all(len(p.grades) == 145 for p in personas)


def test_bench_relevance_without_a_set_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_relevance.py"), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {tmp_path / 'papers.jsonl'}: not found"
        " (--data wants a folder holding papers.jsonl and personas.yaml)\n"
    )
