"""A paper named the many ways readers name it (issue 10): arXiv ids old and new, with versions,
abs/pdf/html/export URLs, `arXiv:` and DOI forms, Slack's wrapped links, in `like:`, in
`/digest like|unlike|likes` and in `digestbot feedback`, all resolve to one key; junk and ids
arXiv never issued get a clear message. A library's entries without an arXiv id find their
stored paper by title, whatever the case, braces, accents and punctuation. Through the real CLI,
the real web app on loopback and the arXiv API served by `responses`."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import test_slack
from helpers import FeedPaper, digestbot, raw_rows, write_feed
from test_likes import API, PAPERS, preview_json, sources, sub

from digestbot.arxiv_ids import NOT_AN_ID, arxiv_id, id_problem
from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback

SPELLINGS = {
    "2403.10715": [
        "2403.10715",
        "2403.10715v2",
        "2403.10715V12",
        " 2403.10715 ",
        "arXiv:2403.10715",
        "ARXIV:2403.10715v3",
        "arxiv: 2403.10715",
        "https://arxiv.org/abs/2403.10715",
        "https://arxiv.org/abs/2403.10715v2?context=cs",
        "arxiv.org/abs/2403.10715v2?context=cs",
        "http://arxiv.org/pdf/2403.10715",
        "https://arxiv.org/pdf/2403.10715v1.pdf",
        "https://arxiv.org/html/2403.10715v2/",
        "https://export.arxiv.org/abs/2403.10715",
        "https://www.arxiv.org/abs/2403.10715#S2",
        "HTTPS://ARXIV.ORG/ABS/2403.10715",
        "https://huggingface.co/papers/2403.10715",  # the paper's page where the daily list links
        "https://www.alphaxiv.org/abs/2403.10715v2",  # where readers read and discuss papers
        "https://www.alphaxiv.org/overview/2403.10715",
        "https://ar5iv.labs.arxiv.org/html/2403.10715",
        "https://ar5iv.org/abs/2403.10715",
        "https://www.semanticscholar.org/arxiv/2403.10715",
        "https://scirate.com/arxiv/2403.10715",
        "https://arxiv-sanity-lite.com/?rank=pid&pid=2403.10715",
        "10.48550/arXiv.2403.10715",
        "https://doi.org/10.48550/ARXIV.2403.10715",
        "<https://arxiv.org/abs/2403.10715>",
        "<https://arxiv.org/abs/2403.10715v2|Motion Tracks: A Unified Representation>",
        "(2403.10715)",
        "2403.10715.",
    ],
    "hep-th/9901001": ["hep-th/9901001", "HEP-TH/9901001v2", "https://arxiv.org/abs/hep-th/9901001v1"],
    "math/0309136": [
        "math/0309136",
        "math.GT/0309136",
        "math.gt/0309136v2",
        "arxiv.org/pdf/math.GT/0309136v1",
    ],
    "1412.1234": ["1412.1234", "arXiv:1412.1234v3"],  # four digits before 2015
    "0704.0001": ["0704.0001"],  # the first new-style id
}
# Ids arXiv never issued, each with the words of the reason the message gives.
NEVER_ISSUED = {
    "2403.1234": "5 digits after the dot",  # four digits after 2014
    "1412.12345": "4 digits after the dot",  # five before 2015
    "2413.12345": "2413 is not a year and month",
    "0612.1234": "began in April 2007",
    "foo/9901001": "no archive 'foo'",
    "hep-th/9913001": "9913 is not a year and month",
    "hep-th/1201001": "ran from 1991 to March 2007",
}
TWO_PAPERS = [  # two papers are not one
    "2403.10715, 2403.10886",
    "2403.10715 2403.10886",
    "https://arxiv.org/abs/2403.10715 https://arxiv.org/abs/2403.10886",
]
JUNK = [
    *NEVER_ISSUED,
    "banana",
    "https://notarxiv.org/abs/2403.10715",
    "https://example.org/papers/2403.10715",
    *TWO_PAPERS,
]
WHY = {**NEVER_ISSUED, **dict.fromkeys(TWO_PAPERS, "more than one paper")}


@pytest.mark.parametrize("key, text", [(k, t) for k, ts in SPELLINGS.items() for t in ts])
def test_every_spelling_of_a_paper_is_one_id(key, text):
    assert arxiv_id(text) == key


@pytest.mark.parametrize("text", JUNK)
def test_ids_arxiv_never_issued_and_junk_are_no_id(text):
    assert arxiv_id(text) is None
    assert WHY.get(text, NOT_AN_ID) in id_problem(text)  # and the message says why


def atom(entries: list[tuple[str, str]]) -> str:
    """An export-API answer listing (id with version, title) entries."""
    items = "".join(
        f"""  <entry>
    <id>http://arxiv.org/abs/{aid}</id>
    <published>2003-09-08T10:00:00Z</published>
    <updated>2003-09-08T10:00:00Z</updated>
    <title>{title}</title>
    <summary>Knots, links and the invariants of three-manifolds.</summary>
    <author><name>Ada Lovelace</name></author>
    <category term="math.GT"/>
  </entry>
"""
        for aid, title in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"  <title>arXiv Query</title>\n  <id>http://arxiv.org/api/x</id>\n{items}</feed>\n"
    )


@responses.activate
def test_yaml_likes_in_any_spelling_are_stored_asked_of_arxiv_and_found_under_one_key(workdir):
    api = responses.add(
        responses.GET,
        API,
        body=atom([("math/0309136v2", "Knot Floer homology"), ("hep-th/9901001v1", "Strings")]),
        content_type="application/atom+xml",
    )
    likes = [
        "math.GT/0309136v2",
        "https://arxiv.org/abs/math/0309136",
        "HEP-TH/9901001",
        "arXiv:2403.10715v3",
    ]
    workdir.write_config(sources(workdir), sub("carol", like=likes))
    digestbot(workdir, "check")
    out = digestbot(workdir, "fetch").output

    assert parse_qs(urlsplit(api.calls[0].request.url).query)["id_list"] == ["hep-th/9901001,math/0309136"]
    assert "liked papers: 2 new" in out and "not on arXiv" not in out
    with Store(workdir.db) as store:
        assert store.subscriber("carol").subscriber.profile.likes == (
            "math/0309136",
            "hep-th/9901001",
            "2403.10715",
        )
        assert store.missing_likes() == []
    digestbot(workdir, "fetch")
    assert len(api.calls) == 1  # found under the key they were liked by: not asked again


def test_two_ids_in_one_like_entry_are_a_config_error_not_the_first_alone(workdir):
    workdir.write_config(
        sources(workdir),
        sub("carol", like=["https://arxiv.org/abs/2403.10715 https://arxiv.org/abs/2403.10886"]),
    )
    out = digestbot(workdir, "check", expect=2).output
    assert "subscribers[0].like[0]" in out
    assert "not an arXiv id" in out and "it names more than one paper" in out  # and says why


def test_an_id_arxiv_never_issued_in_a_text_library_says_why(workdir):
    (workdir.path / "mine.txt").write_text("2403.10715\n2403.1234\n", encoding="utf-8")
    workdir.write_config(sources(workdir), sub("carol", library="mine.txt"))
    out = digestbot(workdir, "check", expect=2).output
    assert "mine.txt:2" in out and "5 digits after the dot" in out


def received(workdir, sid: str) -> list:
    with Store(workdir.db) as store:
        return [it.paper for d in store.digests(subscriber_id=sid) for it in store.digest_items(d.id)]


def test_feedback_takes_any_spelling_of_a_received_paper_and_records_one_rating(workdir):
    workdir.write_config(
        sources(workdir), sub("kim", keywords=["imitation learning"]) + sub("lee", keywords=["x"])
    )
    digestbot(workdir, "fetch")
    digestbot(workdir, "send")
    paper = received(workdir, "kim")[0]
    aid = paper.arxiv_id
    for ref in (aid, f"{aid}v3", f"<https://arxiv.org/abs/{aid}v2|{paper.title}>", f" arXiv:{aid} ",
                f"https://arxiv.org/pdf/{aid}v1.pdf", f"10.48550/arXiv.{aid}", paper.key):  # fmt: skip
        assert "rated up" in digestbot(workdir, "feedback", "kim", ref, "up").output
    assert raw_rows(workdir.db, "SELECT subscriber_id, vote FROM feedback") == [
        {"subscriber_id": "kim", "vote": 1}
    ]
    assert "rated down" in digestbot(workdir, "feedback", "kim", aid, "Down").output  # as typed
    assert "rated up" in digestbot(workdir, "feedback", "kim", aid, "UP").output

    for junk in ("banana", "2403.1234", f"{aid}, 2403.10886"):
        out = digestbot(workdir, "feedback", "kim", junk, "down", expect=2).output
        assert "is not an arXiv id" in out and "Traceback" not in out
    assert (
        "5 digits after the dot" in digestbot(workdir, "feedback", "kim", "2403.1234", "up", expect=2).output
    )
    two = digestbot(workdir, "feedback", "kim", f"{aid} 2403.10886", "up", expect=2).output
    assert "it names more than one paper (" in two and aid in two and "2403.10886" in two
    refused = digestbot(workdir, "feedback", "lee", aid, "down", expect=2).output  # lee never got it
    assert "lee never received" in refused
    assert raw_rows(workdir.db, "SELECT subscriber_id, vote FROM feedback") == [
        {"subscriber_id": "kim", "vote": 1}
    ]


def test_slack_like_unlike_and_likes_answer_for_each_paper(workdir, start_web):
    workdir.write_config(sources(workdir), sub("carol", keywords=["robot*"]))
    digestbot(workdir, "fetch")
    web = start_web()
    user = {"user": "U0REFS001"}

    def say(text: str) -> str:
        return web.command(text, **user).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")

    title = PAPERS["2403.10715"]["title"]
    reply = say("like <https://arxiv.org/abs/2403.10715v2|Motion Tracks: A Unified Representation>")
    assert reply.startswith("Liked `2403.10715`") and title in reply  # a label with spaces is one link

    reply = say("like 2403.10715v3, 2501.77777 <https://arxiv.org/abs/HEP-TH/9901001v2|hep-th/9901001>")
    assert reply.startswith("Liked `2501.77777`, `hep-th/9901001`")
    assert "Already liked: `2403.10715`" in reply
    assert (
        "Not in the database yet: `2501.77777`, `hep-th/9901001`" in reply and "fetched from arXiv" in reply
    )

    listed = say("likes")
    assert f"`2403.10715` {title}" in listed and "`2501.77777` (not fetched from arXiv yet)" in listed

    reply = say("unlike hep-th/9901001v1, 2403.11111")
    assert (
        reply.startswith("Removed `hep-th/9901001`.") and "Not among your liked papers: `2403.11111`" in reply
    )
    assert say("unlike 2403.11111").startswith("`2403.11111` is not among your liked papers")
    for junk in ("like 2403.1234", "like banana", "unlike 1412.12345"):
        assert "is not an arXiv id or link" in say(junk)
    assert "(an id from 2015 on has 5 digits after the dot)" in say("like 2403.1234")
    assert "(2413 is not a year and month (YYMM))" in say("like 2413.12345")
    assert "(arXiv has no archive 'foo'" in say("like foo/9901001")
    with Store(workdir.db) as store:
        assert store.subscriber("slack:U0REFS001").subscriber.profile.likes == ("2403.10715", "2501.77777")


LIBRARY_FEED = [
    FeedPaper(
        "2403.20101",
        "Schrödinger Bridges for Robot Policies — a Study",
        "We learn robot manipulation policies with Schrödinger bridges between demonstrations.",
    ),
    FeedPaper(
        "2403.20102",
        "Can Robots Learn Dexterity From Human Videos?",
        "Human hand videos teach dexterous robot manipulation without action labels.",
    ),
    FeedPaper(
        "2403.20103",
        "Dexterous Robot Manipulation from Human Hand Videos at Scale",
        "We scale learning dexterous robot hands from human hand videos and demonstrations.",
    ),
    FeedPaper(
        "2403.20104",
        "Robot Policies from Schrödinger Bridges and Human Demonstrations",
        "Schrödinger bridges map human demonstrations to robot manipulation policies.",
    ),
    FeedPaper(
        "2403.20105", "Protein Folding with Graph Networks", "Graph networks predict protein structures."
    ),
]
LIBRARY_BIB = r"""
@article{scholar,
  title={Schr{\"o}dinger {B}ridges for robot policies: A study},
  author={Lovelace, Ada},
  journal={Conference on Robot Learning},
  year={2024}
}
@inproceedings{zotero,
  title = {Can {R}obots Learn Dexterity from Human Videos?},
  abstract = {Dexterous manipulation from videos of human hands.},
  booktitle = {Proc. RSS},
}
@misc{unstored,
  title = {Bimanual robot manipulation from human video demonstrations},
}
"""


def test_library_entries_without_an_id_find_their_stored_paper_by_title_and_never_come_as_new(workdir):
    write_feed(workdir.path / "feed.xml", LIBRARY_FEED)
    (workdir.path / "refs.bib").write_text(LIBRARY_BIB, encoding="utf-8")
    feed = "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n"
    workdir.write_config(feed, sub("gina", library="refs.bib", relevance_floor=0))
    digestbot(workdir, "fetch")

    data = json.loads(digestbot(workdir, "preview", "gina", "--format", "json").output)

    keys = [p["key"] for p in data["papers"]]
    assert "arxiv:2403.20101" not in keys and "arxiv:2403.20102" not in keys  # in the library already
    assert set(keys[:2]) == {"arxiv:2403.20103", "arxiv:2403.20104"}
    why = {p["key"]: p["why"] for p in data["papers"]}
    assert why["arxiv:2403.20104"] == ["like Schrödinger Bridges for Robot Policies — a Study"]
    assert why["arxiv:2403.20103"] == ["like Can Robots Learn Dexterity From Human Videos?"]
    assert preview_json(workdir, "gina")  # the text digest shows them too


def test_library_ids_as_zotero_mendeley_scholar_and_arxiv_export_them():
    from digestbot.library import read_library

    text = (Path(__file__).parent / "fixtures" / "library_exports.bib").read_text(encoding="utf-8")
    assert [(s.arxiv_id, s.title[:20]) for s in read_library(text)] == [
        ("2303.04137", "Diffusion Policy: Vi"),  # Zotero: url, doi, note
        (None, "Attention Is All You"),  # Zotero, a journal article: a title seed
        ("2303.04138", "Diffusion Policy: Vi"),  # Mendeley
        ("2303.04139", "Only an arxivId"),  # Mendeley, arxivId alone
        ("2303.04140", "Diffusion policy: Vi"),  # Google Scholar
        ("hep-th/9901001", "Strings"),  # Google Scholar, an old-style id without "arXiv:"
        ("2303.04141", "Diffusion Policy: Vi"),  # arXiv's own export
        ("math/0309136", "Knot Floer homology"),  # an old arXiv export
        ("2303.04142", "Biblatex style"),  # biblatex eprinttype
        ("2303.04143", "JabRef"),
    ]
    mentions = r"""
@article{zotero, title = {B}, number = {arXiv:2403.10886}, publisher = {arXiv}}
@article{note, title = {C}, note = {arXiv: math.GT/0309136 [math]}}
@misc{how, title = {D}, howpublished = {\url{https://arxiv.org/abs/hep-th/9901001v2}}}
@article{two, title = {E}, note = {arXiv:2403.10886 and arXiv:2403.10715}}
@article{plain, title = {F}, number = {12}, note = {Accepted}}
"""
    assert [s.arxiv_id for s in read_library(mentions)] == [
        "2403.10886",
        "math/0309136",
        "hep-th/9901001",
        None,
        None,
    ]


def test_a_library_title_is_found_whatever_its_spelling_but_not_in_a_longer_title():
    from digestbot.library import title_key, title_keys

    stored = title_key("Schrödinger Bridges for Robot Policies — a Study")
    for spelling in (
        r"Schr{\"o}dinger {B}ridges for robot policies: A study",
        "SCHRODINGER BRIDGES FOR ROBOT POLICIES - A STUDY",
        r"Schr\"{o}dinger Bridges for Robot Policies, a Study.",
    ):
        assert stored in title_keys(spelling)
        assert stored in title_keys(f"{spelling}. We learn robot policies. With bridges.")
    assert title_key("Deep Learning") not in title_keys("Deep learning. A survey of the field")
    assert title_keys("Short.") == ("short",)  # a title alone, however short
    assert title_key("Attention is all you need") not in title_keys("x" * 400 + ". Attention is all you need")


@responses.activate
def test_slack_likes_says_which_liked_ids_arxiv_does_not_know(workdir, start_web):
    responses.add_passthru("http://127.0.0.1")  # the web app on loopback
    api = responses.add(
        responses.GET, API, body=atom([("hep-th/9901001v1", "Strings")]), content_type="application/atom+xml"
    )
    workdir.write_config(sources(workdir), sub("carol", keywords=["robot*"]))
    web = start_web()
    reply = web.command("like HEP-TH/9901001v2 2501.77777", user="U0REFS002")
    assert "Not in the database yet: `hep-th/9901001`, `2501.77777`" in reply
    assert "`2501.77777` (not fetched from arXiv yet)" in web.command("likes", user="U0REFS002")

    digestbot(workdir, "fetch")

    assert parse_qs(urlsplit(api.calls[0].request.url).query)["id_list"] == ["2501.77777,hep-th/9901001"]
    listed = web.command("likes", user="U0REFS002")
    assert "• `hep-th/9901001` Strings" in listed
    assert "• `2501.77777` (arXiv does not know this id: check it, or `/digest unlike` it)" in listed


def test_the_web_forms_liked_papers_field_takes_what_slack_takes():
    """Ids separated by spaces, as `/digest like` takes them, and links pasted from a browser
    with their query; junk is refused saying why."""
    from digestbot.config import Config
    from digestbot.web_forms import read_profile

    def likes(text: str):
        form = {
            "email": "a@example.org",
            "keywords": "x",
            "likes": text,
            "frequency": "daily",
            "time": "08:00",
        }
        return read_profile(form, Config(path=Path("x.yaml")), "web:1")

    pasted = (
        "https://arxiv.org/abs/2403.10886v2?utm_source=newsletter&utm_medium=email&utm_campaign=" + "x" * 90
    )
    got = likes(f"2403.10715 2403.10324,\n{pasted}")
    assert got.errors == {}
    assert got.subscriber.profile.likes == ("2403.10715", "2403.10324", "2403.10886")
    # an entry as arXiv's "Cite as" or a reading list writes it names its one paper
    written = likes(
        "arXiv: 2401.12345, arXiv:2401.12346 [cs.LG]\nAttention is all you need https://arxiv.org/abs/1706.03762"
    )
    assert written.errors == {}
    assert written.subscriber.profile.likes == ("2401.12345", "2401.12346", "1706.03762")
    refused = likes("2403.1234")
    assert refused.subscriber is None
    assert "5 digits after the dot" in refused.errors["likes"]
