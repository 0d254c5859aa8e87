"""Profiles seeded with papers (issue 10): `like:` and `library:` in the YAML, liked papers fetched
from the arXiv API by id, similarity ranking fused with keywords, the relevance floor, and the
filters that still veto. End to end through the CLI on the bundled sample feed (145 real titles
and abstracts, synthetic ids), with the arXiv API served by `responses`."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import test_slack
from helpers import digestbot, not_due_soon

from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback
SAMPLE = Path(__file__).resolve().parent.parent / "digestbot" / "samples" / "sample-feed.xml"
PAPERS = {
    json.loads(line)["arxiv_id"]: json.loads(line)
    for line in (Path(__file__).resolve().parent.parent / "data" / "relevance" / "papers.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
}
# Two robot-learning-from-human-video papers of the sample (see data/relevance/personas.yaml).
ROBOT_LIKES = ["2403.10715", "2403.10886"]
API = "https://export.arxiv.org/api/query"


def sources(workdir) -> str:
    shutil.copy(SAMPLE, workdir.path / "sample.xml")
    return "- name: sample\n  type: arxiv_rss\n  url: sample.xml\n"


def sub(sid: str, **keys) -> str:
    lines = [f"- id: {sid}", f"  email: {sid}@example.org", f"  schedule: {not_due_soon()}"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def preview_json(workdir, sid: str) -> list[dict]:
    """The ranked digest as the preview gives it to scripts: (title, matched line) per paper
    (the text preview wraps both at 76 columns)."""
    papers = json.loads(digestbot(workdir, "preview", sid, "--format", "json").output)["papers"]
    return [{"title": p["title"], "why": ", ".join(p["why"])} for p in papers]


def test_a_profile_with_only_liked_papers_gets_papers_like_them_and_says_why(workdir):
    workdir.write_config(sources(workdir), sub("carol", like=ROBOT_LIKES))
    digestbot(workdir, "check")
    digestbot(workdir, "fetch")

    shown = preview_json(workdir, "carol")

    liked_titles = {PAPERS[a]["title"] for a in ROBOT_LIKES}
    assert shown and not liked_titles & {p["title"] for p in shown}  # a liked paper never comes as new
    assert all(p["why"].startswith("like ") and p["why"][5:] in liked_titles for p in shown)
    top = " ".join(p["title"].lower() for p in shown[:5])
    assert "robot" in top or "imitation" in top


def test_likes_and_keywords_both_count_and_exclusions_still_veto(workdir):
    workdir.write_config(
        sources(workdir),
        sub("dave", like=ROBOT_LIKES, keywords=["reward model"], exclude=["exoskeleton*"]),
    )
    digestbot(workdir, "fetch")
    shown = preview_json(workdir, "dave")
    assert any("reward model" in p["why"] for p in shown)
    assert any(p["why"].startswith("like ") for p in shown)
    assert not any("exoskeleton" in p["title"].lower() for p in shown)


def test_a_relevance_floor_no_paper_reaches_sends_nothing(workdir):
    workdir.write_config(sources(workdir), sub("erin", like=ROBOT_LIKES, relevance_floor=0.99))
    digestbot(workdir, "fetch")
    result = digestbot(workdir, "send")
    assert "0 sent" in result.output and "1 subscriber(s) with nothing new" in result.output


ATOM_ONE = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <title>arXiv Query: id_list=2501.00007</title>
  <id>http://arxiv.org/api/x</id>
  <updated>2025-01-02T00:00:00-05:00</updated>
  <entry>
    <id>http://arxiv.org/abs/2501.00007v1</id>
    <published>2025-01-01T10:00:00Z</published>
    <updated>2025-01-01T10:00:00Z</updated>
    <title>Learning Dexterous Manipulation from Human Videos</title>
    <summary>Robots imitate human hand videos for dexterous manipulation without action labels.</summary>
    <author><name>Ada Lovelace</name></author>
    <arxiv:primary_category term="cs.RO"/>
    <category term="cs.RO"/>
  </entry>
</feed>
"""


@responses.activate
def test_liked_papers_missing_from_the_database_are_fetched_by_id_and_never_new_to_anyone(workdir):
    api = responses.add(responses.GET, API, body=ATOM_ONE, content_type="application/atom+xml")
    workdir.write_config(
        sources(workdir),
        sub("carol", like=["https://arxiv.org/abs/2501.00007v1", "2501.99999"])
        + sub("frank", keywords=["dexterous"]),
    )

    out = digestbot(workdir, "fetch", expect=0).output

    asked = parse_qs(urlsplit(api.calls[0].request.url).query)
    assert asked["id_list"] == ["2501.00007,2501.99999"] and asked["max_results"] == ["2"]
    assert "liked papers: 1 new" in out and "not on arXiv: 2501.99999" in out
    with Store(workdir.db) as store:
        liked = store.paper("arxiv:2501.00007")
        assert liked.title == "Learning Dexterous Manipulation from Human Videos" and liked.rev is None
    sent = digestbot(workdir, "send").output
    # frank's keyword matches the liked paper's title, but it was never listed by a source
    with Store(workdir.db) as store:
        frank = [
            it.paper.key for d in store.digests(subscriber_id="frank") for it in store.digest_items(d.id)
        ]
    assert "arxiv:2501.00007" not in frank
    assert "carol: sent" in sent
    assert "not on arXiv: 2501.99999" in digestbot(workdir, "status").output
    digestbot(workdir, "fetch")  # known now (the unknown one is asked again)
    assert len(api.calls) == 2
    assert parse_qs(urlsplit(api.calls[1].request.url).query)["id_list"] == ["2501.99999"]


BIBTEX = """
@article{motiontracks,
  title = {Motion Tracks: A Unified Representation for Human-Robot Transfer},
  eprint = {2403.10715},
  archivePrefix = {arXiv},
}
@inproceedings{workshop,
  title = {Robots that learn dexterous skills by watching people},
  abstract = {Human videos teach robot manipulation policies without teleoperation.},
}
"""


def test_a_bibtex_library_seeds_the_profile(workdir):
    (workdir.path / "refs.bib").write_text(BIBTEX, encoding="utf-8")
    workdir.write_config(sources(workdir), sub("gina", library="refs.bib"))
    digestbot(workdir, "fetch")
    with Store(workdir.db) as store:
        profile = store.subscriber("gina").subscriber.profile
    assert profile.likes == ("2403.10715",) and len(profile.seed_texts) == 1
    shown = preview_json(workdir, "gina")
    assert shown and any("papers in your library" in p["why"] or p["why"].startswith("like ") for p in shown)


@pytest.mark.parametrize(
    "keys, where, message",
    [
        ({"like": ["not-an-id"]}, "subscribers[0].like[0]", "not an arXiv id"),
        ({"library": "missing.bib"}, "subscribers[0].library", "file not found"),
        ({"relevance_floor": 3}, "subscribers[0].relevance_floor", "from 0 to 1"),
    ],
)
def test_bad_seed_settings_are_config_errors(workdir, keys, where, message):
    workdir.write_config(sources(workdir), sub("hal", **keys))
    out = digestbot(workdir, "check", expect=2).output
    assert where in out and message in out


def test_a_bibtex_file_that_does_not_parse_names_its_own_line(workdir):
    (workdir.path / "refs.bib").write_text(
        "@misc{ok, title={Fine}}\n@article{bad, title={Unclosed\n", encoding="utf-8"
    )
    workdir.write_config(sources(workdir), sub("ivy", library="refs.bib"))
    out = digestbot(workdir, "check", expect=2).output
    assert re.search(r"refs\.bib:2: subscribers\[0\]\.library: BibTeX that cannot be parsed", out), out


def test_slack_like_unlike_and_likes(workdir, start_web):
    workdir.write_config(sources(workdir), sub("carol", keywords=["robot*"]))
    digestbot(workdir, "fetch")
    web = start_web()
    reply = web.command("like <https://arxiv.org/abs/2403.10715v2>, 2403.10886", user="U0LIKER01")
    assert reply.startswith("Liked `2403.10715`, `2403.10886`")
    listed = web.command("likes", user="U0LIKER01")
    assert PAPERS["2403.10715"]["title"] in listed.replace("&amp;", "&")
    assert "not an arXiv id" in web.command("like banana", user="U0LIKER01")
    assert web.command("unlike 2403.10886", user="U0LIKER01").startswith("Removed `2403.10886`")
    with Store(workdir.db) as store:
        assert store.subscriber("slack:U0LIKER01").subscriber.profile.likes == ("2403.10715",)
    assert "like " in digestbot(workdir, "preview", "slack:U0LIKER01").output


def test_feedback_from_the_command_line_is_one_rating_and_only_for_papers_received(workdir):
    workdir.write_config(sources(workdir), sub("kim", keywords=["imitation learning"], max_papers=40))
    digestbot(workdir, "fetch")
    digestbot(workdir, "send")
    with Store(workdir.db) as store:
        got = [it.paper for d in store.digests(subscriber_id="kim") for it in store.digest_items(d.id)]
    up, down = got[0], got[1]
    assert "rated up" in digestbot(workdir, "feedback", "kim", up.arxiv_id, "up").output
    digestbot(workdir, "feedback", "kim", f"https://arxiv.org/abs/{down.arxiv_id}v1", "down")
    for _ in range(3):  # a thousand clicks are one rating
        digestbot(workdir, "feedback", "kim", down.key, "down")
    never = next(p for p in PAPERS if f"arxiv:{p}" not in {g.key for g in got})
    refused = digestbot(workdir, "feedback", "kim", never, "up", expect=2).output
    assert "never received" in refused
    digestbot(workdir, "feedback", "kim", up.arxiv_id, "clear")
    with Store(workdir.db) as store:
        assert store.feedback(["kim"]) == {"kim": {down.key: -1}}


def split_sample(workdir, first: int) -> tuple[Path, str]:
    """The sample feed cut in two: the first `first` items now, the rest written later."""
    text = SAMPLE.read_text(encoding="utf-8")
    head, _, rest = text.partition("<item>")
    items = ["<item>" + i for i in ("<item>" + rest).split("<item>")[1:]]
    tail = "</channel>" + text.rsplit("</channel>", 1)[1]
    items[-1] = items[-1].split("</channel>")[0]
    feed = workdir.path / "sample.xml"
    feed.write_text(head + "".join(items[:first]) + tail, encoding="utf-8")
    return feed, head + "".join(items) + tail


def test_a_paper_rated_up_brings_similar_ones_that_match_no_keyword(workdir):
    feed, everything = split_sample(workdir, 100)
    yaml = sub("kim", keywords=["diffusion policy"]) + sub("lee", keywords=["diffusion policy"])
    workdir.write_config("- name: sample\n  type: arxiv_rss\n  url: sample.xml\n", yaml)
    digestbot(workdir, "fetch")
    digestbot(workdir, "send")
    with Store(workdir.db) as store:
        got = [it.paper for d in store.digests(subscriber_id="kim") for it in store.digest_items(d.id)]
    assert len(got) == 2
    for paper in got:
        digestbot(workdir, "feedback", "kim", paper.key, "up")
    feed.write_text(everything, encoding="utf-8")
    digestbot(workdir, "fetch")

    kim, lee = preview_json(workdir, "kim"), preview_json(workdir, "lee")

    assert lee and all("diffusion policy" in p["why"] for p in lee)  # no feedback: keywords only
    similar = [p for p in kim if p["why"] == "similar to papers you rated up"]
    assert similar and not {p["title"] for p in similar} & {p["title"] for p in lee}


def test_preview_json_has_the_documented_shape(workdir):
    workdir.write_config(
        sources(workdir), sub("carol", like=ROBOT_LIKES, keywords=["imitation learning"], max_papers=7)
    )
    digestbot(workdir, "fetch")
    data = json.loads(digestbot(workdir, "preview", "carol", "--format", "json").output)
    assert set(data) == {"subscriber", "total", "papers"} and data["subscriber"] == "carol"
    assert len(data["papers"]) == 7 and data["total"] >= 7
    assert all(set(p) == {"key", "arxiv_id", "title", "score", "why"} and p["why"] for p in data["papers"])
    scores = [p["score"] for p in data["papers"]]
    assert scores == sorted(scores, reverse=True)
    workdir.write_config(sources(workdir), sub("carol", keywords=["nothing-matches-this-xyz"]))
    empty = json.loads(digestbot(workdir, "preview", "carol", "--format", "json").output)
    assert empty == {"subscriber": "carol", "total": 0, "papers": []}


@responses.activate
def test_check_warns_about_liked_papers_not_fetched_or_unknown(workdir):
    responses.add(responses.GET, API, body=ATOM_ONE, content_type="application/atom+xml")
    workdir.write_config(sources(workdir), sub("carol", like=["2501.00007", "2501.99999"]))
    assert "warning" not in digestbot(workdir, "check").output  # no database yet: nothing to say
    assert not workdir.db.exists()
    digestbot(workdir, "sync")
    out = digestbot(workdir, "check").output
    assert "2 liked paper(s) not in the database yet" in out
    digestbot(workdir, "fetch")
    out = digestbot(workdir, "check").output
    assert "not in the database yet" not in out and "not on arXiv: 2501.99999" in out  # not both


OTHER_FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>other</title><link>https://example.org/</link>
<description>x</description>
<item><title>Robots learn manipulation from human videos of hands</title>
<link>https://arxiv.org/abs/2501.00901</link>
<description>Robot manipulation policies learned from videos of human hands, without robot data.</description>
<guid>oai:arXiv.org:2501.00901v1</guid><category>cs.CV</category></item>
</channel></rss>
"""


def sample_categories() -> dict[str, set[str]]:
    """The categories the sample feed gives each paper, by arXiv id."""
    items = re.findall(r"<item>(.*?)</item>", SAMPLE.read_text(encoding="utf-8"), re.DOTALL)
    return {
        re.search(r"arxiv\.org/abs/([\d.]+)", item).group(1): set(
            re.findall(r"<category>(.*?)</category>", item)
        )
        for item in items
    }


def test_a_seeded_readers_categories_sources_and_exclusions_filter_what_comes_by_similarity(workdir):
    """The filters a reader's papers pass, with likes (and with keywords too, when the matcher
    holds the profile): categories, the sources they take, exclusions. The papers that come by
    similarity pass them as keyword matches do."""
    (workdir.path / "other.xml").write_text(OTHER_FEED, encoding="utf-8")
    feeds = sources(workdir) + "- name: other\n  type: rss\n  url: other.xml\n"
    readers = (
        sub(
            "fay", like=ROBOT_LIKES, keywords=["imitation learning"], categories=["cs.RO"], sources=["sample"]
        )
        + sub("gus", like=ROBOT_LIKES, categories=["cs.RO"])
        + sub("hal", like=ROBOT_LIKES, sources=["other"])
        + sub("ivy", like=ROBOT_LIKES)
    )
    workdir.write_config(feeds, readers)
    digestbot(workdir, "fetch")
    categories = sample_categories()

    def shown(sid):
        papers = json.loads(digestbot(workdir, "preview", sid, "--format", "json").output)["papers"]
        return [p["arxiv_id"] for p in papers]

    everyone = shown("ivy")
    assert "2501.00901" in everyone  # like the likes: it comes when nothing filters it
    assert any("cs.RO" not in categories.get(a, {"cs.CV"}) for a in everyone)
    for sid in ("fay", "gus"):
        papers = shown(sid)
        assert papers and all("cs.RO" in categories[a] for a in papers), (sid, papers)
    assert shown("hal") == ["2501.00901"]
    # an exclusion vetoes what comes by similarity: the word of the first cs.RO paper gus had
    first = shown("gus")[0]
    word = max(re.findall(r"[A-Za-z]+", PAPERS[first]["title"]), key=len).lower()
    workdir.write_config(
        feeds,
        readers
        + sub("jo", like=ROBOT_LIKES, categories=["cs.RO"], exclude=[word])
        + sub("kim", like=ROBOT_LIKES, exclude=[word]),  # no rule the matcher holds
    )
    assert first in everyone
    for sid in ("jo", "kim"):
        left = [a for a in shown(sid) if a in PAPERS]
        assert left and first not in left, sid
        assert not any(word in (PAPERS[a]["title"] + " " + PAPERS[a]["abstract"]).lower() for a in left), sid


def test_a_paper_that_came_by_similarity_is_not_sent_again_when_it_is_revised(workdir):
    """A new version of a paper is new only to those who never received it: for a paper that
    came by similarity alone too, not only for keyword matches."""
    import test_daemon as daemon

    workdir.write_config(sources(workdir), sub("carol", like=ROBOT_LIKES))
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--force")
    (first,) = daemon.outbox_mails(workdir.outbox)
    revised = sorted(first.papers)[0]
    feed = workdir.path / "sample.xml"
    text = feed.read_text(encoding="utf-8")
    assert f"arXiv:{revised}v1 Announce Type: new" in text
    feed.write_text(
        text.replace(
            f"arXiv:{revised}v1 Announce Type: new \nAbstract: ",
            f"arXiv:{revised}v2 Announce Type: replace \nAbstract: Revised. ",
        ).replace(f"oai:arXiv.org:{revised}v1", f"oai:arXiv.org:{revised}v2"),
        encoding="utf-8",
    )
    digestbot(workdir, "fetch")
    with Store(workdir.db) as store:
        (paper,) = store.papers_by_keys([f"arxiv:{revised}"])
    assert paper.abstract.startswith("Revised.") and paper.revised

    digestbot(workdir, "send", "--force")
    later = daemon.outbox_mails(workdir.outbox)[1:]
    assert not any(revised in m.papers for m in later)


MOTION_TRACKS = PAPERS["2403.10715"]["title"]
# The published version of a liked preprint, as Zotero or Google Scholar export it: no arXiv id,
# a DOI of the venue, and here (to make the double count visible) an abstract on another topic.
PUBLISHED = f"""
@inproceedings{{motiontracks-corl,
  title = {{{MOTION_TRACKS}}},
  booktitle = {{Conference on Robot Learning}},
  doi = {{10.48550/fake.corl.2025.17}},
  abstract = {{Large language models reason step by step; chain-of-thought prompting and reinforcement
               learning improve mathematical reasoning benchmarks.}},
}}
"""


def test_a_preprint_and_its_published_version_in_one_library_count_as_one_liked_paper(workdir):
    # Zotero libraries often hold a paper twice: the arXiv preprint and the published version
    # (a DOI, no arXiv id). The second was read as a text seed of its own beside the liked
    # preprint: the paper counted twice, its second abstract pulling in papers of its own.
    bib = "@article{mt, title = {" + MOTION_TRACKS + "}, eprint = {2403.10715}, archivePrefix = {arXiv}}\n"
    (workdir.path / "refs.bib").write_text(bib + PUBLISHED, encoding="utf-8")
    workdir.write_config(sources(workdir), sub("gina", library="refs.bib"))
    digestbot(workdir, "fetch")

    shown = preview_json(workdir, "gina")

    assert shown and all(p["why"] == f"like {MOTION_TRACKS}" for p in shown), shown
    text = digestbot(workdir, "preview", "gina").output
    assert re.search(r"papers\s+like\s+the\s+one\s+you\s+liked", text), text


def test_a_library_entry_of_a_paper_liked_by_id_long_ago_is_that_paper_not_a_second_seed(workdir):
    # `like:` names the preprint (stored a month ago, outside the window the digest ranks) and
    # the library holds its published version: the entry found no paper of its title among the
    # window's, and became a second seed.
    from digestbot.models import Paper

    (workdir.path / "refs.bib").write_text(PUBLISHED, encoding="utf-8")
    workdir.write_config(sources(workdir), sub("hank", like=["2403.10715"], library="refs.bib"))
    liked = PAPERS["2403.10715"]
    with Store(workdir.db) as store:
        store.add_papers(
            [
                Paper(
                    "arxiv:2403.10715",
                    "2403.10715",
                    liked["title"],
                    liked["abstract"],
                    "https://arxiv.org/abs/2403.10715",
                )
            ],
            "sample",
            datetime.now(UTC) - timedelta(days=30),
        )
    digestbot(workdir, "fetch")

    shown = preview_json(workdir, "hank")

    assert shown and MOTION_TRACKS not in {p["title"] for p in shown}
    assert all(p["why"] == f"like {MOTION_TRACKS}" for p in shown), shown


@pytest.mark.parametrize("end", ["\r", "\r\n"])
def test_a_library_with_classic_mac_or_windows_line_ends_names_the_right_line(workdir, end):
    # BibDesk on classic Mac OS and some old exports end lines in a bare CR: bibtexparser
    # counts only LF, so every problem was said to be on line 1.
    text = end.join(["@misc{ok, title={Fine}}", "", "@article{bad,", " title={Unclosed", ""])
    (workdir.path / "refs.bib").write_bytes(text.encode())
    (workdir.path / "ids.txt").write_bytes(end.join(["2403.10715", "# mine", "caf\xe9"]).encode("latin-1"))
    workdir.write_config(sources(workdir), sub("ivy", library="refs.bib") + sub("jo", library="ids.txt"))
    out = digestbot(workdir, "check", expect=2).output
    assert re.search(r"refs\.bib:3: subscribers\[0\]\.library: BibTeX that cannot be parsed", out), out
    assert re.search(r"ids\.txt:3: subscribers\[1\]\.library: not UTF-8", out), out
