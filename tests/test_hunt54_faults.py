"""Faults found by hunt 54 (matching, ranking and the preview contract), each reproduced with
the real CLI on a real feed file: what `preview --format json` lists and what `send` mails."""

from __future__ import annotations

import email
import json
from email import policy

import pytest
from helpers import SOURCES, FeedPaper, db_dump, digestbot, subscriber, write_feed

from digestbot.matching import highlight_spans


def _preview(workdir, sid: str) -> dict:
    return json.loads(digestbot(workdir, "preview", sid, "--format", "json", "-o", "-").output)


def _mailed(workdir, sid: str) -> str:
    """The plain text of the one digest `send` put in the outbox for `sid`."""
    (path,) = workdir.outbox.glob(f"*-{sid}-*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return message.get_body(("plain",)).get_content()


def _run(workdir, papers, *subscribers: str) -> None:
    write_feed(workdir.path / "feed.xml", papers)
    workdir.write_config(SOURCES, "".join(subscribers))
    digestbot(workdir, "fetch")


# --- an en dash or an em dash between two words ------------------------------------------------
# Titles write `Vision–Language` and `Navier–Stokes` with an en dash (Hugging Face's list, most
# RSS feeds, a title copied from a PDF). The dash was punctuation, so the keyword
# `vision-language` never found such a title, and a keyword typed with the dash (copied from
# the title) matched neither the dash nor a hyphen: the reader got nothing.

DASHED = [
    FeedPaper("2403.30001", "Vision–Language Models for Robot Control", "We align the two modalities."),
    FeedPaper("2403.30002", "Neural Operators for Navier—Stokes Flows", "We learn the flow."),
    FeedPaper("2403.30003", "A Study of Cooking", "Nothing about it."),
]


@pytest.mark.parametrize(
    ("keyword", "title"),
    [
        ("vision-language", "Vision–Language Models for Robot Control"),
        ("vision language", "Vision–Language Models for Robot Control"),
        ('"Vision–Language"', "Vision–Language Models for Robot Control"),
        ("Navier-Stokes", "Neural Operators for Navier—Stokes Flows"),
        ('"Navier–Stokes"', "Neural Operators for Navier—Stokes Flows"),
    ],
)
def test_a_dash_between_two_words_is_a_hyphen(workdir, keyword, title):
    _run(workdir, DASHED, subscriber("ada", keyword))

    got = _preview(workdir, "ada")
    assert [p["title"] for p in got["papers"]] == [title], got
    digestbot(workdir, "send")
    assert title in _mailed(workdir, "ada")


def test_a_dashed_phrase_is_highlighted_whole():
    text = "Vision–Language Models"
    assert highlight_spans(text, ["vision-language"]) == [(0, len("Vision–Language"))]


# --- a Greek letter written as the letter, or as TeX spells it ---------------------------------
# The README promises that `alpha-divergence` finds `$\alpha$-divergence` (TeX math is read as
# the words it holds). But a paper that writes the letter itself (`α-divergence`, as Hugging
# Face's list and many RSS feeds do) was not found by `alpha-divergence`, and a keyword written
# with the letter (`β-VAE`, `ε-greedy`) found no arXiv paper, which writes `$\beta$-VAE`.

GREEK = [
    FeedPaper("2403.30011", "Robust $\\alpha$-Divergence Minimization", "We minimize it."),
    FeedPaper("2403.30012", "Disentangling with β-VAE", "We disentangle."),
    FeedPaper("2403.30013", "An ε-Greedy Baseline", "Exploration, revisited."),
    FeedPaper("2403.30014", "A Study of Cooking", "Nothing about it."),
]


@pytest.mark.parametrize(
    ("keyword", "key"),
    [
        ("α-divergence", "2403.30011"),
        ("alpha-divergence", "2403.30011"),
        ("beta-VAE", "2403.30012"),
        ("β-VAE", "2403.30012"),
        ("epsilon-greedy", "2403.30013"),
    ],
)
def test_a_greek_letter_is_the_word_tex_spells_it_with(workdir, keyword, key):
    _run(workdir, GREEK, subscriber("ada", keyword))

    got = _preview(workdir, "ada")
    assert [p["arxiv_id"] for p in got["papers"]] == [key], got
    assert got["papers"][0]["why"] and keyword in got["papers"][0]["why"][0], got


def test_a_greek_letter_is_highlighted():
    text = "Disentangling with β-VAE"
    assert highlight_spans(text, ["beta-vae"]) == [(text.index("β"), len(text))]


# --- punctuation around a keyword --------------------------------------------------------------
# A keyword written with punctuation at an end (`RLHF.` closing a list, `(LLM)`, a phrase in
# quotes as a search engine takes it) only matched where that punctuation stood beside the words
# in the paper: `"diffusion policy"` did not find "Diffusion Policy for Robots", and an
# exclusion `survey.` let "A Survey of Diffusion Policy Methods" through.

PUNCTUATED = [
    FeedPaper("2403.30021", "Diffusion Policy for Robots", "We learn policies."),
    FeedPaper("2403.30022", "RLHF at Scale", "We align LLMs with human feedback"),
    FeedPaper("2403.30023", "A Survey of Diffusion Policy Methods", "We review them"),
    FeedPaper("2403.30024", "A Study of Cooking", "Nothing about it."),
]


def test_punctuation_at_the_ends_of_a_keyword_or_an_exclusion_is_no_part_of_it(workdir):
    profile = (
        "- id: ada\n"
        "  email: ada@example.org\n"
        "  keywords: ['\"diffusion policy\"', 'RLHF.', '(LLMs)']\n"
        "  exclude: ['survey.']\n"
    )
    _run(workdir, PUNCTUATED, profile)

    got = _preview(workdir, "ada")
    assert {p["arxiv_id"]: p["why"] for p in got["papers"]} == {
        "2403.30021": ['"diffusion policy"'],
        "2403.30022": ["RLHF.", "(LLMs)"],
    }, got
    digestbot(workdir, "send")
    mailed = _mailed(workdir, "ada")
    assert "Diffusion Policy for Robots" in mailed and "RLHF at Scale" in mailed
    assert "A Survey of" not in mailed


# --- TeX's braces in a title or an abstract ----------------------------------------------------
# arXiv keeps an abstract's TeX as written (`\emph{in-context} learning`, `{\em diffusion}
# policies`): the braces were punctuation, a break inside the phrase, so `in-context learning`
# and `diffusion policy` never found those papers, though the README reads TeX as its words.

BRACED = [
    FeedPaper(
        "2403.30031", "Transformers Learn to Generalize", "We study \\emph{in-context} learning at scale."
    ),
    FeedPaper("2403.30032", "Robots That Act", "We train {\\em diffusion} policies on real robots."),
    FeedPaper("2403.30033", "A Study of Cooking", "Nothing about it."),
]


@pytest.mark.parametrize(
    ("keyword", "key"), [("in-context learning", "2403.30031"), ("diffusion policy", "2403.30032")]
)
def test_tex_braces_inside_a_phrase_separate_nothing(workdir, keyword, key):
    _run(workdir, BRACED, subscriber("ada", keyword))

    got = _preview(workdir, "ada")
    assert [(p["arxiv_id"], p["why"]) for p in got["papers"]] == [(key, [keyword])], got
    digestbot(workdir, "send")
    assert dict((p.aid, p.title) for p in BRACED)[key] in _mailed(workdir, "ada")


# An acronym in the plural (`GPs`) finds its singular (`GP`), but not when punctuation followed
# it (`GPs.` closing a list, `(GPs)`): the rule looked at the keyword's last character.


@pytest.mark.parametrize("keyword", ["GPs.", "'(GPs)'", "'\"LMs\"'"])
def test_an_acronym_in_the_plural_with_punctuation_after_it_finds_its_singular(workdir, keyword):
    papers = [
        FeedPaper("2403.30041", "Sparse GP Regression", "A GP, sparse."),
        FeedPaper("2403.30042", "Small LM Distillation", "An LM, small."),
        FeedPaper("2403.30043", "A Study of Cooking", "Nothing about it."),
    ]
    _run(workdir, papers, subscriber("ada", keyword))

    got = _preview(workdir, "ada")
    wanted = "2403.30041" if "GP" in keyword else "2403.30042"
    assert [p["arxiv_id"] for p in got["papers"]] == [wanted], got


# --- preview while a digest waits for a retry --------------------------------------------------
# After a failed send (the SMTP server down), the digest waits with its papers and goes out
# before any new one is built. `preview` built a new one instead, which found nothing new (the
# watermark had moved past those papers): "No new matching papers ... nothing would be sent",
# JSON `{"total": 0, "papers": []}`, while the next `send` delivered the waiting digest.

RL = [FeedPaper(f"2403.3005{i}", f"Reinforcement Learning Study {i}", "We study it.") for i in range(1, 6)]


def test_preview_shows_the_digest_that_waits_for_a_retry(workdir, backend, closed_smtp_url, smtp_server):
    profile = subscriber("ada", "reinforcement learning") + "  max_papers: 3\n"
    write_feed(workdir.path / "feed.xml", RL)
    workdir.write_config(SOURCES, profile)
    digestbot(workdir, "fetch")
    workdir.use_smtp(closed_smtp_url)
    digestbot(workdir, "send", expect=1)

    got = _preview(workdir, "ada")
    text = digestbot(workdir, "preview", "ada", "-o", "-").output
    assert got["total"] == 5 and len(got["papers"]) == 3, got
    assert "nothing would be sent" not in text and got["papers"][0]["title"] in text

    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "send", "--force")
    (mail,) = smtp_server.messages
    body = mail.message.get_body(("plain",)).get_content()
    places = [body.find(p["title"]) for p in got["papers"]]
    assert -1 not in places and places == sorted(places), (got, body)
    assert "5 new papers matched your profile; here are the best 3." in body


# `send --dry-run --force` left the waiting digest out ("0 digest(s) would be sent"), while
# `send --force` then sent it.


def test_a_dry_run_reports_the_digest_a_retry_would_send(workdir, backend, closed_smtp_url):
    write_feed(workdir.path / "feed.xml", RL)
    workdir.write_config(SOURCES, subscriber("ada", "reinforcement learning") + "  max_papers: 3\n")
    digestbot(workdir, "fetch")
    workdir.use_smtp(closed_smtp_url)
    digestbot(workdir, "send", expect=1)
    before = db_dump(workdir.db)

    out = digestbot(workdir, "send", "--dry-run", "--force").output

    assert "ada: would send 3 paper(s) (5 matched) to ada@example.org" in out, out
    assert "Dry run: 1 digest(s) would be sent" in out, out
    assert db_dump(workdir.db) == before
