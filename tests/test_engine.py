"""The fast Matcher against the rule-by-rule ReferenceMatcher: same matches, terms, scores.

Property-based: hypothesis generates texts and profiles full of the cases the rules are about
(word boundaries, hyphens and underscores, plurals, prefixes, accents, acronyms, punctuation).
"""

import random
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digestbot.matching import (
    BREAK,
    BestMatches,
    InvalidTerm,
    Matcher,
    ReferenceMatcher,
    compile_profile,
    compile_term,
    highlight_spans,
    match_profile,
    match_trending,
    passes_filters,
    rank,
    token_spans,
    tokens,
)
from digestbot.matching import PaperText as Text
from digestbot.models import Match, Paper, Profile

WORDS = [
    "RL", "URL", "rl", "self", "supervised", "transformer", "transformers", "policy", "policies",
    "process", "processes", "Schrödinger", "schrodinger", "SCHRÖDINGER", "bridge", "bridges",
    "GPT", "4", "4o", "robot", "robots", "robotic", "microrobot", "LLM", "LLMs", "Straße", "strasse",
    "ﬁne", "fine", "tuning", "diffusion", "learning", "imitation", "analysis", "analyses", "bias",
    "city", "cities", "Zoë", "zoe", "naïve", "naive", "Q", "a", "the",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", "-", "_", "/", "'", ". ", ", ", " (", ") ", ": ", "–", "\n"]
AUTHORS = ["Lukas Schröder", 'Lukas Schr\\"oder', "lukas schroder", "Zoë Müller", "José Núñez", "Chen Wei"]
CATEGORIES = ["cs.LG", "cs.RO", "cs.CL", "stat.ML", "math.OC", "cs", "stat", "hep-th"]

words = st.sampled_from(WORDS)
texts = st.lists(st.tuples(words, st.sampled_from(SEPARATORS)), max_size=25).map(
    lambda parts: "".join(w + s for w, s in parts)
)
phrases = st.lists(words, min_size=1, max_size=3).flatmap(
    lambda ws: st.sampled_from([" ", "-", "_"]).map(lambda sep: sep.join(ws))
)
keywords = st.one_of(phrases, words.map(lambda w: w[: max(1, len(w) - 2)] + "*"))
profiles = st.builds(
    Profile,
    keywords=st.lists(keywords, max_size=5).map(tuple),
    exclude=st.lists(keywords, max_size=2).map(tuple),
    authors=st.lists(st.sampled_from(AUTHORS), max_size=2).map(tuple),
    categories=st.lists(st.sampled_from(CATEGORIES), max_size=2).map(tuple),
)
papers = st.builds(
    Paper,
    key=st.just("k"),
    title=texts,
    abstract=texts,
    authors=st.lists(st.sampled_from(AUTHORS), max_size=3).map(tuple),
    categories=st.lists(st.sampled_from(["cs.LG", "cs.RO", "stat.ML", "hep-th", "math.OC"]), max_size=3).map(
        tuple
    ),
    seq=st.integers(1, 100),
    upvotes=st.none() | st.integers(0, 50),
)


def valid(profile: Profile) -> bool:
    try:
        for term in profile.keywords + profile.exclude:
            compile_term(term)
    except InvalidTerm:
        return False
    return True


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.text("abcdef", min_size=1, max_size=3), profiles, max_size=8),
    st.lists(papers, max_size=6),
)
def test_engine_agrees_with_reference(profile_map, paper_list):
    profile_map = {k: p for k, p in profile_map.items() if valid(p)}
    fast, ref = Matcher(profile_map), ReferenceMatcher(profile_map)
    for paper in paper_list:
        assert list(fast.match(paper)) == list(ref.match(paper))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.text(max_size=60))
def test_arbitrary_text_never_breaks_matching(text, keyword):
    """Any title, abstract or keyword (control characters, surrogates, RTL...) is handled."""
    try:
        compile_term(keyword)
    except InvalidTerm:
        keyword = "x"
    profile = {"s": Profile(keywords=(keyword,), exclude=("zzz",))}
    paper = Paper(key="k", title=text, abstract=text[::-1], authors=(text[:20],), categories=("cs.LG",))
    assert list(Matcher(profile).match(paper)) == list(ReferenceMatcher(profile).match(paper))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_token_spans_agree_with_tokens(text):
    spans = token_spans(text)
    assert [t for t, _, _ in spans] == tokens(text)
    assert all(0 <= a < b <= len(text) for _, a, b in spans)


def seed_papers() -> list[Paper]:
    """The real corpus in data/seeds: titles and abstracts, with made-up categories."""
    found = []
    for path in sorted((Path(__file__).parent.parent / "data" / "seeds").glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        blocks = [line for line in lines if line]
        start = next(i for i, line in enumerate(blocks) if re.match(r"^[A-Z][a-z]{2} \d{1,2}$", line)) + 1
        for i in range(start, len(blocks) - 1, 2):
            n = len(found)
            found.append(
                Paper(
                    key=str(n),
                    title=blocks[i],
                    abstract=blocks[i + 1],
                    categories=(CATEGORIES[n % 4],),
                    seq=n,
                )
            )
    return found


def test_engine_agrees_with_reference_on_the_seed_corpus():
    corpus = seed_papers()
    assert len(corpus) > 100
    vocab = re.findall(r"[A-Za-z][A-Za-z-]+", " ".join(p.title + " " + p.abstract for p in corpus))
    rng = random.Random(7)
    profile_map = {}
    for i in range(300):
        kws = []
        for _ in range(rng.randint(1, 8)):
            n = rng.choice([1, 1, 2, 2, 3])
            start = rng.randrange(len(vocab) - n)
            kw = " ".join(vocab[start : start + n])
            kws.append(kw[: max(3, len(kw) // 2)] + "*" if rng.random() < 0.1 else kw)
        profile_map[f"s{i}"] = Profile(
            keywords=tuple(kws),
            exclude=tuple(rng.sample(vocab, rng.choice([0, 0, 1]))),
            categories=tuple(rng.sample(CATEGORIES[:4], rng.choice([0, 0, 1]))),
        )
    fast, ref = Matcher(profile_map), ReferenceMatcher(profile_map)
    total = 0
    for paper in corpus:
        got = list(fast.match(paper))
        assert got == list(ref.match(paper)), paper.title
        total += len(got)
    assert total > 1000  # the check above compared a real load, not empty lists


def test_profiles_that_match_nothing_are_left_out():
    matcher = Matcher({"empty": Profile(), "ok": Profile(keywords=("x",))})
    assert len(matcher) == 1


def test_a_profile_with_hundreds_of_terms_matches_like_the_reference():
    """No limit on keywords per profile inside the engine (the config caps them at 200)."""
    profile_map = {"big": Profile(keywords=tuple(f"word{i}" for i in range(300)), exclude=("never",))}
    paper = Paper(key="k", title="word299 and word7", abstract="word7 word150 word150")
    found = list(Matcher(profile_map).match(paper))
    assert found == list(ReferenceMatcher(profile_map).match(paper))
    assert found[0][1].terms == ("word7", "word150", "word299")


@settings(max_examples=300, deadline=None)
@given(texts, keywords)
def test_highlighting_finds_exactly_what_matching_matched(text, keyword):
    """A keyword that matched a text is highlighted in it, and one that did not is not."""
    try:
        compile_term(keyword)
    except InvalidTerm:
        return
    matched = list(ReferenceMatcher({"s": Profile(keywords=(keyword,))}).match(Paper(key="k", title=text)))
    assert bool(highlight_spans(text, [keyword])) == bool(matched)


def test_a_profile_listing_a_term_twice_counts_it_twice_like_the_reference():
    profile_map = {
        "twice": Profile(keywords=("RL", "RL")),
        "once": Profile(keywords=("RL",)),
        "spelled": Profile(keywords=("rl", "diffusion")),
        "excluding": Profile(keywords=("RL",), exclude=("robot*",)),
    }
    for paper in (Paper(key="a", title="RL here"), Paper(key="b", title="RL for robots")):
        assert list(Matcher(profile_map).match(paper)) == list(ReferenceMatcher(profile_map).match(paper))


def test_no_phrase_matches_across_the_texts_of_a_batch():
    # However a batch's texts are scanned (one by one, or joined to save calls), a phrase must not
    # run from one paper's title into the next one's, nor from a title into its abstract.
    profile_map = {
        "phrase": Profile(keywords=("policy bridge",)),
        "broken": Profile(keywords=("policy, bridge",)),
        "prefix": Profile(keywords=("policy bri*",)),
    }
    papers = [
        Paper(key="a", title="A diffusion policy", abstract="bridges everything"),
        Paper(key="b", title="Bridge, policy", abstract="Policy, bridge: policy bridges"),
        Paper(key="c", title="bridge of sighs", abstract="the last policy"),
    ]
    reference = ReferenceMatcher(profile_map)
    expected = [pair for paper in papers for pair in reference.match(paper)]
    assert list(Matcher(profile_map).match_batch(papers)) == expected
    assert {(sid, m.paper.key) for sid, m in expected} == {("phrase", "b"), ("broken", "b"), ("prefix", "b")}


def test_a_paper_listing_a_followed_author_twice_counts_them_once():
    profile_map = {
        "fan": Profile(authors=("Zoë Müller",)),
        "both": Profile(keywords=("robot",), authors=("Li Wei",)),
    }
    papers = [
        Paper(key="a", title="Robots", authors=("Zoë Müller", "Zoe Muller", "ZOË MÜLLER")),
        Paper(key="b", title="Robot arms", authors=("Li Wei", "li wei", "Zoe Muller")),
    ]
    reference = ReferenceMatcher(profile_map)
    expected = [pair for paper in papers for pair in reference.match(paper)]
    assert list(Matcher(profile_map).match_batch(papers)) == expected
    assert [(sid, m.score) for sid, m in expected] == [("fan", 40), ("both", 30), ("fan", 40), ("both", 70)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.text("abcdef", min_size=1, max_size=3), profiles, max_size=8),
    st.lists(papers, max_size=12),
    st.integers(1, 5),
)
def test_batches_agree_with_the_reference_paper_by_paper(profile_map, paper_list, chunk):
    """Many papers in one sparse product (and a stream cut in chunks) give, paper by paper, the
    reference's matches: a paper's hits never leak into another's row."""
    profile_map = {k: p for k, p in profile_map.items() if valid(p)}
    paper_list = [replace(p, key=f"p{i}") for i, p in enumerate(paper_list)]
    fast, ref = Matcher(profile_map), ReferenceMatcher(profile_map)
    expected = [(sid, m) for paper in paper_list for sid, m in ref.match(paper)]
    assert list(fast.match_batch(paper_list)) == expected
    assert [pair for batch in fast.match_stream(paper_list, chunk) for pair in batch] == expected
    counts = sum((b.counts() for b in fast.match_stream(paper_list, chunk)), start=np.zeros(len(fast), int))
    assert dict(zip(fast.ids, counts.tolist(), strict=True)) == {
        sid: sum(1 for s, _ in expected if s == sid) for sid in fast.ids
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.text("abc", min_size=1, max_size=2), profiles, min_size=1, max_size=6),
    st.lists(papers, max_size=15),
    st.integers(1, 4),
    st.integers(1, 4),
)
def test_best_matches_are_the_top_of_rank_over_everything(profile_map, paper_list, keep, chunk):
    """BestMatches (arrays, reduced as it goes) keeps exactly what ranking every match would:
    ties on score, upvotes and seq (seqs repeat here) included, then ordered by key."""
    profile_map = {k: p for k, p in profile_map.items() if valid(p)}
    # few distinct seqs and upvotes: ties at the cut are common; keys run against the stream
    paper_list = [replace(p, key=f"p{99 - i}", seq=i % 3, upvotes=i % 2) for i, p in enumerate(paper_list)]
    fast = Matcher(profile_map)
    best = BestMatches(np.full(len(fast), keep))
    for batch in fast.match_stream(paper_list, chunk):
        best.add(batch, np.ones(len(batch), dtype=bool))
        best._reduce()  # as a long stream would, between batches
    everything: dict[str, list] = {}
    reference = ReferenceMatcher(profile_map)
    for sid, m in (pair for paper in paper_list for pair in reference.match(paper)):
        everything.setdefault(sid, []).append(m)
    assert best.best(fast.ids) == {sid: rank(ms)[:keep] for sid, ms in everything.items()}
    assert dict(zip(fast.ids, best.counts.tolist(), strict=True)) == {
        sid: len(everything.get(sid, [])) for sid in fast.ids
    }


def test_exclusions_authors_and_categories_in_one_batch():
    """The vetoes and filters folded into the product, on a hand-made batch."""
    profile_map = {
        "kw": Profile(keywords=("diffusion",), exclude=("survey",)),
        "author": Profile(authors=("Zoë Müller",), categories=("cs.RO",)),
        "cats": Profile(categories=("stat",), exclude=("quantum",)),
        "both": Profile(keywords=("diffusion", "robot*"), authors=("Chen Wei",)),
    }
    batch = [
        Paper(key="a", title="Diffusion survey", categories=("stat.ML",)),
        Paper(
            key="b", title="Diffusion for robots", authors=("Chen Wei", "Zoe Muller"), categories=("cs.RO",)
        ),
        Paper(key="c", title="Quantum diffusion", authors=("Zoë Müller",), categories=("cs.LG", "stat.ML")),
    ]
    found = [
        (sid, m.paper.key, m.score, m.terms, m.authors) for sid, m in Matcher(profile_map).match_batch(batch)
    ]
    assert found == [
        ("cats", "a", 0, (), ()),  # kw: vetoed by "survey"
        ("both", "a", 30, ("diffusion",), ()),
        ("kw", "b", 30, ("diffusion",), ()),
        ("author", "b", 40, (), ("Zoë Müller",)),
        ("both", "b", 100, ("diffusion", "robot*"), ("Chen Wei",)),
        ("kw", "c", 30, ("diffusion",), ()),  # author: not in cs.RO; cats: vetoed by "quantum"
        ("both", "c", 30, ("diffusion",), ()),
    ]
    reference = ReferenceMatcher(profile_map)
    assert list(Matcher(profile_map).match_batch(batch)) == [
        pair for p in batch for pair in reference.match(p)
    ]


def test_more_categories_than_one_machine_word():
    """Category masks span several 64-bit words when profiles want over 64 categories."""
    cats = [f"x{i}.y" for i in range(70)] + ["z"]
    profile_map = {
        f"s{i}": Profile(keywords=("graph*",), categories=(cats[i], cats[(i * 7) % 71])) for i in range(71)
    }
    profile_map["only"] = Profile(categories=("x69.y", "z"))
    papers = [
        Paper(key=f"p{j}", title="Graphs", categories=(cats[j], cats[(j * 3) % 71].upper(), "z.w"))
        for j in range(71)
    ]
    reference = ReferenceMatcher(profile_map)
    found = list(Matcher(profile_map).match_batch(papers))
    assert found == [pair for p in papers for pair in reference.match(p)]
    assert len(found) > 71


def test_trending_matches_agree_with_the_rules_one_profile_at_a_time():
    rng = random.Random(11)
    corpus = [
        replace(p, upvotes=rng.randrange(60), rev=p.seq, sources=(rng.choice(["hf", "blog"]),))
        for p in seed_papers()
    ]
    corpus.append(replace(corpus[0], key="no-upvotes", upvotes=None))
    vocab = re.findall(r"[A-Za-z][A-Za-z-]{4,}", " ".join(p.title for p in corpus))
    profiles = {}
    for i in range(120):
        profiles[f"s{i}"] = Profile(
            keywords=tuple(rng.sample(vocab, rng.choice([0, 0, 1, 3]))),
            exclude=tuple(rng.sample(vocab, rng.choice([0, 0, 1]))),
            categories=tuple(rng.sample(CATEGORIES[:4], rng.choice([0, 0, 1]))),
            sources=tuple(rng.sample(["hf", "blog"], rng.choice([0, 0, 1]))),
            trending=10,
        )

    got = match_trending(profiles, corpus)

    by_key = {p.key: p for p in corpus}
    for sid, profile in profiles.items():
        compiled, want = compile_profile(profile), []
        for paper in corpus:
            text = Text.of(paper)
            if paper.upvotes is None or (profile.sources and paper.sources[0] not in profile.sources):
                continue
            if compiled.is_empty:
                m = Match(paper, 0) if passes_filters(compiled, text) else None
            else:
                m = match_profile(compiled, paper, text)
            if m is not None:
                want.append((paper.key, m.score, m.terms))
        want.sort(key=lambda w: (-by_key[w[0]].upvotes, -w[1], -by_key[w[0]].seq, w[0]))
        # ranked by upvotes, then keyword score, then newest; scored by the upvotes that rank them
        want = [(key, by_key[key].upvotes, terms) for key, _, terms in want]
        assert [(m.paper.key, m.score, m.terms) for m in got[sid]] == want, sid
        assert all(m.reasons == ("trending on Hugging Face",) for m in got[sid])
    assert sum(map(len, got.values())) > 2000  # a real load was compared


def test_text_without_names_spelled_with_punctuation_reads_the_same_on_the_fast_path():
    """`tokens` reads text with no `++`, `#` or `.NET`-like dot with a regex without the names'
    lookarounds: wherever it does (the real corpus, text that is not ASCII), that regex must read
    the text exactly as the full one does; and the text it sends to the full one reads otherwise."""
    from digestbot.matching import _NAMED_RE, _TOKEN_RES, _code_space, _spaced, fold

    texts = [t for p in seed_papers() for t in (p.title, p.abstract)]
    texts += ["Straße, Schröder et al. (2024): किताब; 机器学习 e.g. 0.5 U.S. a+b x.y", "ASP.NET..NET"]
    names = ["C++ and C#", "F# on .NET", "Schröder's C++", "(.NET)"]
    for text in texts + names + ["issue #3", "a++b"]:
        folded = _spaced(fold(text))
        plain, named = _TOKEN_RES if folded.isascii() else _code_space()[1]
        fast = not _NAMED_RE.search(folded)
        assert fast == (text in texts), text
        if text in texts + names:
            assert (plain.findall(folded) == named.findall(folded)) == fast, text
        assert tokens(text) == [t or BREAK for t in named.findall(folded)], text
