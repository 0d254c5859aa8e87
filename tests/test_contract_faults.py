"""Faults in the user contract of DESIGN.md and the README's "Matching rules", against the pure
core: what a keyword, an exclusion or an author matches, in the fast Matcher, the rule-by-rule
ReferenceMatcher and the highlighting alike (they must agree), and what a digest shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import SOURCES, FeedPaper, digestbot, subscriber, write_feed
from hypothesis import given, settings
from hypothesis import strategies as st

from digestbot.config import Config, Env
from digestbot.matching import Matcher, ReferenceMatcher, highlight_spans
from digestbot.models import Paper, Profile
from digestbot.slack_commands import CommandContext, CommandHandler
from digestbot.store import Store
from digestbot.web_forms import read_profile

CONTRACT = settings(max_examples=150, deadline=None, derandomize=True, database=None)


def matched(profile: Profile, paper: Paper) -> dict[str, object]:
    """What each engine made of the paper for profile `s` (None: no match); they must agree."""
    fast = dict(Matcher({"s": profile}).match(paper)).get("s")
    ref = dict(ReferenceMatcher({"s": profile}).match(paper)).get("s")
    assert (fast is None) == (ref is None), (fast, ref)
    if fast is not None:
        assert (fast.score, fast.terms, fast.authors) == (ref.score, ref.terms, ref.authors)
    return fast


def keyword_hits(keyword: str, text: str) -> bool:
    """Whether `keyword` matches a paper titled `text`, in both engines, and is highlighted there
    exactly when it matched (a digest shows the word it matched on)."""
    found = matched(Profile(keywords=(keyword,)), Paper(key="k", title=text))
    spans = highlight_spans(text, [keyword])
    assert bool(spans) == (found is not None), (keyword, text, spans)
    return found is not None


# --- a plural matches its singular and back ------------------------------------------------------

# English nouns and their regular plurals, as papers write them.
NOUNS = [
    ("response", "responses"),
    ("disease", "diseases"),
    ("database", "databases"),
    ("phase", "phases"),
    ("horse", "horses"),
    ("cache", "caches"),
    ("size", "sizes"),
    ("movie", "movies"),
    ("cookie", "cookies"),
    ("analysis", "analyses"),
    ("hypothesis", "hypotheses"),
    ("policy", "policies"),
    ("process", "processes"),
    ("box", "boxes"),
    ("transformer", "transformers"),
    ("LLM", "LLMs"),
]


@CONTRACT
@given(
    st.sampled_from(NOUNS),
    st.booleans(),
    st.sampled_from(["{} matter", "On {}", "Learning {} from data", "{}"]),
    st.sampled_from([str, str.title, str.upper]),
)
def test_a_plural_matches_its_singular_and_back(pair, plural_keyword, where, case):
    # Fault: `responses`, `diseases`, `databases`, `caches`, `sizes`, `movies` (keywords) never
    # matched a paper about one `response`, `disease`...; `analysis` and `analyses` not each
    # other at all: the singular of a word ending in -es or -ies was only ever one guess
    # (`responses` -> `respons`, `movies` -> `movy`), and the -is -> -es plural was never reached.
    singular, plural = pair
    keyword, written = (plural, singular) if plural_keyword else (singular, plural)
    assert keyword_hits(case(keyword), where.format(written))


# --- accents: letters Unicode writes without a separable mark -----------------------------------

# Letters with a stroke, slash or ligature have no decomposition in Unicode, so NFKD leaves them
# whole: a name or keyword typed without the accent (as most keyboards and BibTeX exports do)
# must still find them, as `Schroder` finds `Schröder`.
UNDECOMPOSED = [
    ("Lukasz Kaiser", "Łukasz Kaiser"),
    ("Lukasz Kaiser", "{\\L}ukasz Kaiser"),  # as arXiv writes it
    ("Soren Hauberg", "Søren Hauberg"),
    ("Soren Hauberg", "S{\\o}ren Hauberg"),
    ("Dorde Petrovic", "Đorđe Petrović"),
    ("Jon Gudmundsson", "Jón Guðmundsson"),
    ("Thora Aesa", "Þóra Æsa"),
    ("Ayse Yilmaz", "Ayşe Yılmaz"),
]


@pytest.mark.parametrize(("followed", "written"), UNDECOMPOSED)
def test_authors_match_ignoring_accents_unicode_does_not_decompose(followed, written):
    # Fault: following `Lukasz Kaiser` (or `Soren Hauberg`) missed every paper by Łukasz Kaiser
    # (Søren Hauberg): folding dropped only the marks NFKD splits off, and ł, ø, đ, ð, þ, æ, ı
    # have none, so `łukasz` was never `lukasz`.
    paper = Paper(key="k", title="Attention", authors=("Ada Lovelace", written))
    for profile_name, paper_name in ((followed, written), (written, followed)):
        found = matched(Profile(authors=(profile_name,)), Paper(key="k", title="x", authors=(paper_name,)))
        assert found is not None and found.authors == (profile_name,)
    assert matched(Profile(authors=(followed,)), paper) is not None


@pytest.mark.parametrize(
    ("plain", "accented"),
    [("Sorensen", "Sørensen"), ("Lodz", "Łódź"), ("aeon", "Æon"), ("Gudmundsson", "Guðmundsson")],
)
def test_keywords_match_ignoring_accents_unicode_does_not_decompose(plain, accented):
    assert keyword_hits(plain, f"The {accented}–Dice coefficient")
    assert keyword_hits(accented, f"The {plain}'s lemma")


# --- word boundaries in scripts whose vowels are marks -------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "hit"),
    [
        ("कि", "किताब पढ़ना", False),  # Hindi: "that" is no part of "book"
        ("काम", "कोमल हाथ", False),  # "work" is not "soft"
        ("किताब", "यह किताब अच्छी है", True),
        ("हिन्दी", "हिन्दी भाषा का मॉडल", True),
        ("বা", "বাংলা ভাষা", False),  # Bengali: "or" is no part of "Bangla"
        ("বাংলা", "বাংলা ভাষার মডেল", True),
        ("தம", "தமிழ் மொழி", False),  # Tamil
        ("தமிழ்", "தமிழ் மொழி மாதிரி", True),
    ],
)
def test_keywords_in_indic_scripts_match_whole_words(keyword, text, hit):
    # Fault: in Devanagari, Bengali, Tamil... a vowel sign is a spacing mark, which the tokenizer
    # took for punctuation: `किताब` was the tokens क | त | ब, so the keyword `कि` (क |) matched
    # inside it, and `काम` inside `कोमल` (two different vowels, both a break).
    assert keyword_hits(keyword, text) is hit


# --- a soft hyphen is no break -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "shown"),
    [
        ("self-supervised", "Self-super\u00advised learning", "Self-super\u00advised"),
        ("diffusion policy", "Diffu\u00adsion policies for robots", "Diffu\u00adsion policies"),
    ],
)
def test_a_soft_hyphen_inside_a_word_is_no_word_boundary(keyword, text, shown):
    # Fault: blogs and publishers' feeds write long words with `&shy;` (U+00AD, where a line may
    # break); feedparser decodes it and the title keeps it, and the tokenizer took it for
    # punctuation: `super|vised` matched neither `supervised` nor `self-supervised`.
    assert keyword_hits(keyword, text)
    assert [text[a:b] for a, b in highlight_spans(text, [keyword])] == [shown]


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("التعلم العميق", "التعلـــم العميق للروبوتات"),  # "deep learning", a word drawn out with tatweel
        ("التعلـم", "التعلم العميق"),
        ("漢字", "漢\ufe00字"),  # a variation selector: which glyph to draw
        ("naive bayes", "Na\u034five Bayes"),  # a combining grapheme joiner
    ],
)
def test_characters_that_only_shape_how_a_word_is_drawn_are_no_part_of_it(keyword, text):
    # Fault (the soft hyphen's siblings): Arabic's tatweel (U+0640, a letter drawn longer to
    # justify a line), variation selectors and the combining grapheme joiner change how a word
    # is drawn, not which word it is; the matcher kept them in the word, so `التعلـم` was not
    # `التعلم`.
    assert keyword_hits(keyword, text)


# --- TeX math in titles and abstracts ------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text"),
    [
        ("k-means", "Fast $k$-means clustering with coresets"),
        ("k-means clustering", "Fast $k$-means clustering with coresets"),
        ("f-divergences", "Variational inference with $f$-divergence bounds"),
        ("robust alpha-divergence", "A robust $\\alpha$-divergence for outliers"),
        ("$k$-means", "Fast k-means clustering"),
        ("k-NN", "A $k$-NN classifier"),
    ],
)
def test_a_keyword_matches_words_written_in_tex_math(keyword, text):
    # Fault: arXiv titles and abstracts keep TeX math as written (`$k$-means`, `$\alpha$-divergence`),
    # and the tokenizer took `$` and `\` for punctuation that ends a phrase: `k-means` matched
    # no paper that writes it `$k$-means`, as most do.
    assert keyword_hits(keyword, text)


def test_tex_math_does_not_join_what_punctuation_separates():
    assert not keyword_hits("clustering method", "We study $k$-means clustering. Method: coresets")


# --- authors and categories that can never match -------------------------------------------------


def test_check_refuses_an_author_or_category_that_can_never_match(workdir):
    # Fault: `authors: ["---"]` (or `["?"]`) matches no paper, and a profile of it alone matched
    # nothing at all, yet check said OK, as it did for `categories: ["cs.*"]` (the README says
    # `cs` stands for every cs.*; no category has a `*`): a reader who never got a digest.
    workdir.write_config(
        SOURCES,
        "- id: dashes\n  email: d@example.org\n  authors: ['---']\n"
        "- id: glob\n  email: g@example.org\n  categories: [cs.LG, 'cs.*']\n"
        "- id: fine\n  email: f@example.org\n  authors: ['Ada Lovelace']\n  categories: [cs]\n",
    )
    write_feed(workdir.path / "feed.xml", [])
    out = digestbot(workdir, "check", expect=2).output
    assert "subscribers[0].authors[0]: '---' has no letters or digits: it names no author" in out
    assert "subscribers[1].categories[1]: 'cs.*' is no category: write cs (it stands for every cs.*)" in out
    assert "2 problem(s)" in out


def test_the_web_form_refuses_an_author_that_can_never_match():
    form = {"email": "a@example.org", "authors": "---", "frequency": "daily", "time": "08:00"}
    errors = read_profile(form, Config(path=Path("x.yaml")), "web:1").errors
    assert "no letters or digits" in errors.get("authors", "")


# --- scripts written without spaces ------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "shown"),
    [
        ("机器学习", "基于机器学习的蛋白质结构预测", "机器学习"),  # Chinese: "machine learning"
        ("强化学习", "一种新的强化学习方法。", "强化学习"),
        ("機械学習", "機械学習による画像認識", "機械学習"),  # Japanese
        ("トランスフォーマー", "トランスフォーマーを用いた翻訳", "トランスフォーマー"),
        ("LLM", "基于LLM的推理", "LLM"),
    ],
)
def test_a_chinese_or_japanese_keyword_matches_inside_a_sentence(keyword, text, shown):
    # Fault: Chinese and Japanese write no spaces between words, and a run of letters was one
    # token: `机器学习` matched only a title that was exactly that, never a sentence holding it.
    assert keyword_hits(keyword, text)
    assert [text[a:b] for a, b in highlight_spans(text, [keyword])] == [shown]


def test_a_chinese_phrase_does_not_match_across_punctuation():
    assert not keyword_hits("学习方法", "我们研究强化学习。方法如下")


@pytest.mark.parametrize(
    ("keyword", "text"),
    [("LMs", "Distilling a small LM"), ("GPs", "Sparse GP regression"), ("NNs", "A deep NN for vision"),
     ("VLMs", "A VLM that reads charts"), ("LMs", "small LMs"), ("LM", "small LMs")],
)  # fmt: skip
def test_a_short_acronym_in_the_plural_matches_its_singular(keyword, text):
    # Fault: `LLMs` matched `LLM` but `LMs`, `GPs`, `NNs` (language models, Gaussian processes)
    # never matched `LM`, `GP`, `NN`: a word of three letters got no singular, so that `gas` is
    # not read as `ga`, and these are three letters too.
    assert keyword_hits(keyword, text)


# --- one keyword written twice ------------------------------------------------------------------


def test_a_keyword_written_twice_in_the_yaml_counts_once(workdir):
    # Fault: `keywords: [RL, rl, diffusion, policy]` scored every RL hit twice (the two entries
    # are one term to the matcher, and the YAML kept both, where /digest and the web form keep
    # the first): a paper saying only RL outranked one with two distinct keywords in its title,
    # against "more distinct keywords always beat repeats", and its "why" said `RL, rl`.
    only_rl = FeedPaper("2403.00011", "RL, RL and more RL", "We use RL.")
    two = FeedPaper("2403.00012", "Diffusion policy learning", "A study.")
    write_feed(workdir.path / "feed.xml", [only_rl, two])
    workdir.write_config(
        SOURCES,
        subscriber("ada", "RL", "rl", "diffusion", "policy")
        + "  authors: [Ada Lovelace, 'Lovelace, Ada']\n  categories: [cs.LG, CS.lg]\n",
    )
    digestbot(workdir, "fetch")
    got = json.loads(digestbot(workdir, "preview", "ada", "--format", "json", "-o", "-").output)
    assert [(p["arxiv_id"], p["why"]) for p in got["papers"]] == [
        (two.aid, ["diffusion", "policy", "Ada Lovelace"]),
        (only_rl.aid, ["RL", "Ada Lovelace"]),
    ]


# --- an exclusion that leaves out everything a keyword brings -----------------------------------


def test_check_refuses_an_exclusion_that_vetoes_every_paper_a_keyword_brings(workdir):
    # Fault: check refused `exclude: [survey]` beside `keywords: [survey]` (the keyword could
    # never bring a paper) but said OK to `exclude: [learning]` beside `imitation learning`,
    # `rob*` beside `robot*` or `transformer` beside `transformers`, which veto every paper the
    # keyword matches just the same: it compared the two terms for equality only.
    workdir.write_config(
        SOURCES,
        "- id: a\n  email: a@example.org\n  keywords: [imitation learning, robot*, transformers, agents]\n"
        "  exclude: [learning, rob*, transformer]\n"
        "- id: b\n  email: b@example.org\n  keywords: [learning, robot, policy]\n"
        "  exclude: [imitation learning, robot*, policy gradient]\n",
    )
    write_feed(workdir.path / "feed.xml", [])
    out = digestbot(workdir, "check", expect=2).output
    assert (
        "subscribers[0].exclude[0]: 'learning' leaves out every paper keywords[0] 'imitation learning' brings"
        in out
    )
    assert "subscribers[0].exclude[1]: 'rob*' leaves out every paper keywords[1] 'robot*' brings" in out
    assert (
        "subscribers[0].exclude[2]: 'transformer' leaves out every paper keywords[2] 'transformers' brings"
        in out
    )
    assert "subscribers[1].exclude[1]: 'robot*' leaves out every paper keywords[1] 'robot' brings" in out
    assert "4 problem(s)" in out  # `learning` still brings papers without `imitation learning`


def test_the_web_form_refuses_an_exclusion_that_vetoes_every_paper_a_keyword_brings():
    form = {"email": "a@example.org", "keywords": "imitation learning, agents", "exclude": "learning",
            "frequency": "daily", "time": "08:00"}  # fmt: skip
    errors = read_profile(form, Config(path=Path("x.yaml")), "web:1").errors
    assert "leave out every paper" in errors.get("exclude", "")


def test_digest_in_slack_lets_in_or_drops_what_an_exclusion_inside_a_keyword_would_veto(tmp_path):
    # The same rule in /digest, which resolves it itself: a keyword subscribed to lets in the
    # exclusions that would veto it, and an exclusion drops the keywords it would veto (it did
    # both only for the very same term, leaving `imitation learning` followed and never brought).
    store = Store(tmp_path / "slack.db")
    try:
        handler, who = (
            CommandHandler(store, Config(path=tmp_path / "x.yaml"), Env()),
            CommandContext("U0VETO"),
        )
        handler.handle(who, "subscribe agents")
        handler.handle(who, "exclude learning")
        reply = handler.handle(who, "subscribe imitation learning").text
        assert "Papers mentioning `learning` are no longer left out." in reply
        assert store.subscriber("slack:U0VETO").subscriber.profile.exclude == ()

        handler.handle(who, "subscribe robot*")
        reply = handler.handle(who, "exclude rob*").text
        assert "`robot*`: no longer followed." in reply
        assert store.subscriber("slack:U0VETO").subscriber.profile.keywords == (
            "agents",
            "imitation learning",
        )
    finally:
        store.close()
