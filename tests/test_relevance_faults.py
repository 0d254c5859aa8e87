"""Faults hunted in relevance beyond keywords (issue 10): liked papers fetched by id, libraries,
the relevance floor, feedback and the seeded ranking, driven through the real CLI."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import test_daemon
import test_slack
from helpers import FeedPaper, digestbot, write_feed
from test_likes import API, PAPERS, ROBOT_LIKES, sources, sub

from digestbot.models import Profile
from digestbot.sources import http
from digestbot.store import Store

bot = test_daemon.bot  # the fixture: a Worker on a fake clock
subscriber_yaml = test_daemon.subscriber_yaml
start_web = test_slack.start_web  # the fixture: the real web app on loopback

_FEED_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"
      xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <title>arXiv Query: id_list</title>
  <id>http://arxiv.org/api/x</id>
  <updated>2025-01-02T00:00:00-05:00</updated>
  <opensearch:totalResults>{n}</opensearch:totalResults>
"""
# What arXiv answers for an id it never issued in an id_list: an entry with no id and no fields.
_UNKNOWN_ENTRY = "  <entry>\n    <updated>2025-01-02T00:00:00-05:00</updated>\n  </entry>\n"


def _entry(aid: str) -> str:
    return f"""  <entry>
    <id>http://arxiv.org/abs/{aid}v1</id>
    <published>2025-01-01T10:00:00Z</published>
    <title>Known paper {aid} on dexterous manipulation</title>
    <summary>Robots imitate human hand videos for dexterous manipulation.</summary>
    <author><name>Ada Lovelace</name></author>
    <category term="cs.RO"/>
  </entry>
"""


def fake_arxiv(known: set[str]):
    """A callback answering id_list requests as arXiv does: an entry per id asked, blank for
    the ids it does not know."""

    def answer(request):
        ids = parse_qs(urlsplit(request.url).query)["id_list"][0].split(",")
        body = _FEED_HEAD.format(n=len(ids))
        body += "".join(_entry(a) if a in known else _UNKNOWN_ENTRY for a in ids) + "</feed>\n"
        return 200, {"Content-Type": "application/atom+xml"}, body

    return answer


@responses.activate
def test_liked_papers_arxiv_does_not_know_are_a_warning_not_a_failure(workdir):
    responses.add_callback(responses.GET, API, callback=fake_arxiv(set()))
    workdir.write_config(sources(workdir), sub("carol", like=["2501.99998", "2501.99999"]))

    out = digestbot(workdir, "fetch").output

    assert "not on arXiv: 2501.99998, 2501.99999" in out
    assert "liked papers: error" not in out and "none of the" not in out
    with Store(workdir.db) as store:
        state = store.source_state("liked papers")
        assert not state.get("last_error") and state["failures"] == 0
    assert "not on arXiv: 2501.99998, 2501.99999" in digestbot(workdir, "status").output


@responses.activate
def test_a_batch_of_unknown_liked_ids_does_not_stop_the_batches_after_it(workdir, monkeypatch):
    monkeypatch.setitem(http.HOST_INTERVALS, "export.arxiv.org", 0.0)  # pacing is tested in test_sources
    unknown = [f"2501.{n:05d}" for n in range(100, 200)]  # sorted first: the first batch
    known = [f"2502.{n:05d}" for n in range(100, 150)]
    api = responses.add_callback(responses.GET, API, callback=fake_arxiv(set(known)))
    workdir.write_config(sources(workdir), sub("carol", like=unknown + known))

    out = digestbot(workdir, "fetch").output

    assert len(api.calls) == 2 and all(len(c.request.url) < 2000 for c in api.calls)
    assert "liked papers: 50 new" in out and "not on arXiv: 2501.00100" in out
    with Store(workdir.db) as store:
        assert store.missing_likes() == unknown


def preview(workdir, sid: str) -> dict:
    return json.loads(digestbot(workdir, "preview", sid, "--format", "json").output)


# Two entries as two managers export them: the same key twice (bibliographies merged, or Google
# Scholar's entries pasted one after another), and a field twice (Mendeley's url).
DUPLICATES = """@article{vaswani2017attention,
  title = {Motion Tracks: A Unified Representation for Human-Robot Transfer},
  eprint = {2403.10715}, archivePrefix = {arXiv},
}
@article{vaswani2017attention,
  title = {Another paper},
  eprint = {2403.10886}, archivePrefix = {arXiv},
}
@article{mendeley,
  title = {Third},
  url = {https://doi.org/10.1000/whatever},
  url = {http://arxiv.org/abs/2403.10281v2},
}
"""


def library_profile(workdir, bibtex: str) -> Profile:
    """The profile a subscriber with this BibTeX library gets, once `check` took it and `sync` stored it."""
    (workdir.path / "refs.bib").write_text(bibtex, encoding="utf-8")
    workdir.write_config(sources(workdir), sub("gina", library="refs.bib"))
    digestbot(workdir, "check")
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        return store.subscriber("gina").subscriber.profile


def test_duplicate_keys_or_fields_in_a_bibtex_library_are_read_not_refused(workdir):
    assert set(library_profile(workdir, DUPLICATES).likes) == {"2403.10715", "2403.10886", "2403.10281"}


# Sample papers as Zotero exports them without an arXiv id: typographic characters as text
# commands ({\textquoteright}, {\textendash}), italics as \emph, capitals protected.
ZOTERO_TITLES = r"""@article{mckenzie_inverse_2023,
  title = {Inverse {Scaling}: {When} {Bigger} {Isn}{\textquoteright}t {Better}},
  journal = {Transactions on Machine Learning Research},
}
@inproceedings{caggiano_myodex_2023,
  title = {{MyoDex}: {A} {Generalizable} {Prior} for \emph{Dexterous} {Manipulation}},
  booktitle = {Proceedings of the 40th {International} {Conference} on {Machine} {Learning}},
}
"""


def test_library_titles_written_with_tex_text_commands_find_their_stored_papers(workdir):
    (workdir.path / "refs.bib").write_text(ZOTERO_TITLES, encoding="utf-8")
    workdir.write_config(sources(workdir), sub("gina", library="refs.bib"))
    digestbot(workdir, "fetch")

    shown = preview(workdir, "gina")["papers"]

    titles = {p["title"] for p in shown}
    assert shown and not titles & {
        "Inverse Scaling: When Bigger Isn't Better",
        "MyoDex: A Generalizable Prior for Dexterous Manipulation",
    }  # each found by its title: a liked paper, never new
    assert any(
        w.startswith("like MyoDex") or w.startswith("like Inverse Scaling") for p in shown for w in p["why"]
    )


def test_a_library_not_in_utf8_names_the_line_of_its_first_foreign_byte(workdir):
    (workdir.path / "refs.bib").write_bytes(
        b"@article{ok, title={Fine}, eprint={2403.10715}, archivePrefix={arXiv}}\n"
        b"@article{cafe,\n  title = {Caf\xe9 robots},\n}\n"  # Latin-1, as Windows tools save it
    )
    workdir.write_config(sources(workdir), sub("gina", library="refs.bib"))
    out = digestbot(workdir, "check", expect=2).output
    assert "refs.bib:3: subscribers[0].library: not UTF-8 text (byte 0xe9): export or save it as UTF-8" in out
    (workdir.path / "refs.bib").write_bytes(
        b"\xef\xbb\xbf" + b"@article{cafe,\n  title = {Caf\xe9}\n}\n"
    )  # a BOM too
    out = digestbot(workdir, "check", expect=2).output
    assert "refs.bib:2: subscribers[0].library: not UTF-8 text (byte 0xe9)" in out


def _blog(workdir, titles: list[str]) -> str:
    items = "".join(
        f"<item><title>{t}</title><link>https://blog.example.org/p{i}</link></item>"
        for i, t in enumerate(titles)
    )
    (workdir.path / "blog.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
        f"<link>https://blog.example.org/</link><description>b</description>{items}</channel></rss>",
        encoding="utf-8",
    )
    return "- name: blog\n  type: rss\n  url: blog.xml\n"


@responses.activate
@pytest.mark.parametrize(
    "titles",
    [
        ["Weekly update"] * 25,  # every word in every paper: TF-IDF's max_df pruned them all
        ["About", "Why?"],  # stop words only
        ["", "..."],  # no word at all
        [],  # a quiet day, and the liked paper not fetched: no text at all
    ],
    ids=["all-alike", "stop-words", "no-words", "no-papers"],
)
def test_a_window_without_a_usable_word_ranks_nothing_by_similarity_and_sends_the_rest(workdir, titles):
    responses.add_callback(responses.GET, API, callback=fake_arxiv(set()))  # the liked paper: unknown
    workdir.write_config(
        _blog(workdir, titles), sub("carol", like=["2501.99999"]) + sub("dan", keywords=["weekly", "about"])
    )
    digestbot(workdir, "fetch")

    assert preview(workdir, "carol")["papers"] == []
    out = digestbot(workdir, "send").output

    assert ("dan: sent" in out) == any(t in ("Weekly update", "About") for t in titles)
    assert "carol: sent" not in out


GRASP = "suction cup grasping of deformable parcels in cluttered warehouse bins"
DAY1 = [
    FeedPaper("2501.00001", "Robot suction grasping in warehouses", f"We study {GRASP}."),
    FeedPaper("2501.00002", "Robot navigation among crowds", "Social navigation of mobile bases in crowds."),
]
DAY2 = [
    FeedPaper(
        "2501.00003", "Robot legged locomotion on stairs", "Quadrupeds climb stairs with learned gaits."
    ),
    FeedPaper("2501.00004", "Robot arms for surgery", "Teleoperated surgical arms with haptic feedback."),
    FeedPaper("2501.00005", "Robot parcel grasping with suction", f"A new method for {GRASP}."),
]


def test_a_reader_who_only_rated_down_sees_papers_like_it_sink(workdir):
    feed = write_feed(workdir.path / "feed.xml", DAY1)
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n",
        sub("dan", keywords=["robot"]) + sub("eve", keywords=["robot"]),
    )
    digestbot(workdir, "fetch")
    digestbot(workdir, "send")
    digestbot(workdir, "feedback", "dan", "2501.00001", "down")  # less like this: no like, no up
    write_feed(feed, DAY1 + DAY2)
    digestbot(workdir, "fetch")

    dan = [p["arxiv_id"] for p in preview(workdir, "dan")["papers"]]
    eve = [p["arxiv_id"] for p in preview(workdir, "eve")["papers"]]

    assert eve[0] == "2501.00005"  # no feedback: a tie goes to the newest, the grasping paper
    assert sorted(dan) == sorted(eve) and dan[-1] == "2501.00005"  # the same papers; the grasping one last


def test_a_library_that_is_a_device_or_a_folder_is_refused_unread(workdir, tmp_path):
    (workdir.path / "refs").mkdir()
    for path in ("/dev/zero", "refs"):  # /dev/zero: reading it never ends
        workdir.write_config(sources(workdir), sub("gina", library=path))
        out = digestbot(workdir, "check", expect=2).output
        assert "subscribers[0].library:" in out and "is not a file: name a .bib or .txt file" in out


@pytest.mark.parametrize(
    "written, plain", [("1e-3", "0.001"), ('"0.1"', "0.1"), ("0,05", "0.05"), ("1e-7", "0.0000001")]
)
def test_a_relevance_floor_yaml_reads_as_text_says_how_to_write_it(workdir, written, plain):
    workdir.write_config(
        sources(workdir), sub("hal", like=["2403.10715"]) + f"  relevance_floor: {written}\n"
    )
    out = digestbot(workdir, "check", expect=2).output
    assert "subscribers[0].relevance_floor: expected a number from 0 to 1, got '" in out
    assert f"(that is text: write it as {plain}, unquoted)" in out


def refusing_arxiv(known: set[str], refused: str):
    """As `fake_arxiv`, but with arXiv's error answer (HTTP 400, an entry titled Error) to any
    id_list holding `refused`."""
    answer = fake_arxiv(known)

    def refuse(request):
        ids = parse_qs(urlsplit(request.url).query)["id_list"][0].split(",")
        if refused not in ids:
            return answer(request)
        body = _FEED_HEAD.format(n=1) + (
            f"  <entry>\n    <id>http://arxiv.org/api/errors#incorrect_id_format_for_{refused}</id>\n"
            f"    <title>Error</title>\n    <summary>incorrect id format for {refused}</summary>\n"
            "  </entry>\n</feed>\n"
        )
        return 400, {"Content-Type": "application/atom+xml"}, body

    return refuse


@responses.activate
def test_an_id_the_arxiv_api_refuses_is_left_out_and_the_rest_of_its_batch_fetched(workdir, monkeypatch):
    monkeypatch.setitem(http.HOST_INTERVALS, "export.arxiv.org", 0.0)
    api = responses.add_callback(responses.GET, API, callback=refusing_arxiv({"2501.00007"}, "2501.00042"))
    workdir.write_config(sources(workdir), sub("carol", like=["2501.00007", "2501.00042"]))

    out = digestbot(workdir, "fetch").output

    assert "liked papers: 1 new" in out and "not on arXiv: 2501.00042" in out
    with Store(workdir.db) as store:
        assert store.missing_likes() == ["2501.00042"] and not store.source_state("liked papers").get(
            "last_error"
        )
    assert parse_qs(urlsplit(api.calls[-1].request.url).query)["id_list"] == ["2501.00007"]


@responses.activate
@pytest.mark.parametrize("unknown", [1, 25])  # more than the 20 ids the warning names
def test_a_worker_asks_arxiv_again_about_ids_it_did_not_know_at_most_hourly(workdir, bot, unknown):
    api = responses.add_callback(responses.GET, API, callback=fake_arxiv(set()))
    subs = subscriber_yaml("dan", "robot", schedule="daily 08:00") + subscriber_yaml(
        "eve", "robot", schedule="daily 08:30"
    )
    ids = ", ".join(f"'2501.{99999 - n}'" for n in range(unknown))
    b = bot(subs + f"  like: [{ids}]\n", "2024-03-11 07:00")  # eve likes ids arXiv lacks
    for when in ("2024-03-11 08:00", "2024-03-11 08:30"):  # someone is due: a dispatch each time
        b.clock.set(when)
        b.worker.dispatch()
    assert len(api.calls) == 1  # asked once, not at every dispatch
    b.clock.set("2024-03-12 08:00")
    b.worker.dispatch()
    assert len(api.calls) == 2  # and again an hour on


# Two papers off the robot-learning topic of ROBOT_LIKES (graded 0 for that persona in
# data/relevance/personas.yaml) whose words overlap the likes' a little: against TF-IDF fitted
# on a day's two papers alone, common words weigh as much as rare ones and they clear the floor.
OFF_TOPIC = ["2403.10423", "2403.10587"]


def test_a_quiet_day_sends_nothing_off_topic_to_a_likes_only_profile(workdir):
    feed = workdir.path / "feed.xml"
    papers = [FeedPaper(a, p["title"], p["abstract"]) for a, p in PAPERS.items()]
    write_feed(feed, [p for p in papers if p.aid not in OFF_TOPIC])  # a usual day: 143 papers
    workdir.write_config("- name: feed\n  type: arxiv_rss\n  url: feed.xml\n", sub("carol", like=ROBOT_LIKES))
    digestbot(workdir, "fetch")
    assert "carol: sent" in digestbot(workdir, "send").output
    write_feed(feed, [p for p in papers if p.aid in OFF_TOPIC])  # a quiet day: two papers
    digestbot(workdir, "fetch")

    assert preview(workdir, "carol")["papers"] == []


# Fault: a library exported as RIS, CSV, CSL JSON or XML (each a choice in Zotero's, Mendeley's
# and Google Scholar's export menus) was refused as "not an arXiv id or URL: 'TY  - JOUR'": read
# as a list of ids, its first line blamed. It is named for what it is, with what to export instead.
@pytest.mark.parametrize(
    "name, text, kind",
    [
        (
            "refs.ris",
            "\nTY  - JOUR\nTI  - Attention\nUR  - http://arxiv.org/abs/1706.03762\nER  - \n",
            "a RIS export",
        ),
        (
            "refs.enw",
            "%0 Journal Article\n%T Attention\n%U http://arxiv.org/abs/1706.03762\n",
            "an EndNote export",
        ),
        (
            "refs.csv",
            '"Key","Item Type","Publication Year","Author","Title","Url"\n'
            '"ABC","preprint","2017","Vaswani","Attention","http://arxiv.org/abs/1706.03762"\n',
            "a CSV export",
        ),
        ("refs.json", '[{"id": "x", "type": "article", "title": "Attention"}]\n', "a JSON export (CSL JSON)"),
        (
            "refs.rdf",
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n</rdf:RDF>\n',
            "an XML export",
        ),
        (
            "refs.xml",
            '<?xml version="1.0" encoding="UTF-8"?><xml><records></records></xml>\n',
            "an XML export",
        ),
    ],
)
def test_a_library_in_another_export_format_is_named_for_what_it_is(workdir, name, text, kind):
    (workdir.path / name).write_text(text)
    workdir.write_config(sources(workdir), sub("gina", library=name))
    out = digestbot(workdir, "check", expect=2).output
    line = 2 if text.startswith("\n") else 1
    assert (
        f"{name}:{line}: subscribers[0].library: {kind}, which digestbot does not read: export the collection"
        " as BibTeX (.bib), or list one arXiv id or URL per line" in out
    ), out


# Fault: `status` listed the fetch of liked papers as "liked papers (not in config)", as if it
# were a source left over from an old YAML, and with no health: failing on every fetch, it
# never said "failing", as a source does after three failures in a row. It is digestbot's own
# line: named as `fetch` names it, with its health.
@responses.activate
def test_status_shows_the_liked_papers_line_as_its_own_with_its_health(workdir):
    responses.add(responses.GET, API, status=500)
    workdir.write_config(sources(workdir), sub("carol", like=["2501.99998"]))
    for _ in range(3):
        digestbot(workdir, "fetch", expect=1)
    out = digestbot(workdir, "status").output
    row = next(line for line in out.splitlines() if "liked papers" in line)
    assert "not in config" not in row and "failing: 3 fetches in a row" in row, out


# Fault: after a reader dropped an id arXiv does not know from their likes (a typo fixed),
# `check` and `status` still said "not on arXiv: <that id>" until the next fetch: they showed the
# last fetch's warning as it was. It names only ids someone still likes, and none when nobody does.
@responses.activate
def test_check_names_only_unknown_ids_someone_still_likes(workdir):
    responses.add_callback(responses.GET, API, callback=fake_arxiv({"2501.00001"}))
    workdir.write_config(sources(workdir), sub("carol", like=["2501.00001", "2501.99998", "2501.99999"]))
    digestbot(workdir, "fetch")
    assert "not on arXiv: 2501.99998, 2501.99999" in digestbot(workdir, "check").output
    workdir.write_config(sources(workdir), sub("carol", like=["2501.00001", "2501.99999"]))
    out = digestbot(workdir, "check").output
    assert "liked papers: not on arXiv: 2501.99999" in out and "2501.99998" not in out, out
    digestbot(workdir, "sync")  # status shows the database's subscribers
    out = digestbot(workdir, "status").output
    assert "not on arXiv: 2501.99999" in out and "2501.99998" not in out, out
    workdir.write_config(sources(workdir), sub("carol", like=["2501.00001"]))
    assert "not on arXiv" not in digestbot(workdir, "check").output


# Fault: the fetch of liked papers kept which ids arXiv does not know only in its warning's text,
# which names the first 20. With more, `/digest likes` said "(not fetched from arXiv yet)" of
# the 21st on, and once the 20 named were liked no more, `check` and `status` said "not on
# arXiv:  …", naming none of the ids still liked. The fetch keeps every such id.
def test_more_than_twenty_liked_ids_arxiv_does_not_know_are_each_named_as_such(workdir, start_web):
    unknown = [f"2501.{n:05d}" for n in range(100, 125)]

    def like(ids: list[str]) -> None:
        workdir.write_config(
            sources(workdir), f"- id: carol\n  slack: U0LIKER01\n  like: {json.dumps(ids)}\n"
        )

    like(unknown)
    with responses.RequestsMock() as arxiv:
        arxiv.add_callback(responses.GET, API, callback=fake_arxiv(set()))
        digestbot(workdir, "fetch")
    listed = start_web().command("likes", user="U0LIKER01")
    assert listed.count("arXiv does not know this id") == 25 and "not fetched" not in listed, listed

    like(unknown[20:])  # the five ids the warning did not name
    assert f"liked papers: not on arXiv: {', '.join(unknown[20:])}\n" in digestbot(workdir, "check").output
    digestbot(workdir, "sync")
    out = digestbot(workdir, "status").output
    assert f"not on arXiv: {', '.join(unknown[20:])}" in out and "2501.00119" not in out, out


# Fault: Semantic Scholar exports an arXiv paper as `journal = {ArXiv}, volume = {abs/…}` (and
# DBLP's CoRR entries are `journal = {CoRR}, volume = {abs/…}`), NASA ADS may name it only in
# `pages = {arXiv:…}`: read for no arXiv id, such an entry seeded by its title alone, and was
# never fetched by id. The id is read from those fields as from the others.
SEMANTIC_SCHOLAR_DBLP_ADS = """@article{Vaswani2017AttentionIA,
  title={Attention is All you Need},
  author={Ashish Vaswani and Noam M. Shazeer},
  journal={ArXiv},
  year={2017},
  volume={abs/1706.03762},
  url={https://api.semanticscholar.org/CorpusID:13756489}
}
@article{DBLP:journals/corr/abs-2403-10715,
  title     = {Motion Tracks},
  journal   = {CoRR},
  volume    = {abs/2403.10715},
  year      = {2024},
}
@article{2024arXiv240310886X,
  title = {Another paper},
  journal = {arXiv e-prints},
  pages = {arXiv:2403.10886},
}
@article{journal,
  title = {A journal paper whose volume is no arXiv id},
  journal = {Journal of Machine Learning Research},
  volume = {abs/2403.10281},
}
"""


def test_arxiv_ids_in_semantic_scholar_dblp_and_ads_exports_are_read(workdir):
    profile = library_profile(workdir, SEMANTIC_SCHOLAR_DBLP_ADS)
    assert profile.likes == ("1706.03762", "2403.10715", "2403.10886")
    assert [t.partition(".")[0] for t in profile.seed_texts] == [
        "A journal paper whose volume is no arXiv id"
    ]


# Fault: `/digest like` of an id the last fetch found arXiv does not know (someone else liked it
# first) said "Not in the database yet (fetched from arXiv before your next digest)", a promise
# the fetch had already failed to keep. It says arXiv does not know it, as `/digest likes` does.
def test_liking_an_id_arxiv_does_not_know_says_so_at_once(workdir, start_web):
    workdir.write_config(sources(workdir), sub("carol", like=["2501.99999"]))
    with responses.RequestsMock() as arxiv:
        arxiv.add_callback(responses.GET, API, callback=fake_arxiv(set()))
        digestbot(workdir, "fetch")
    reply = start_web().command("like 2501.99999, 2403.10715, 2501.99998", user="U0LIKER02")
    assert reply.startswith("Liked `2501.99999`, `2403.10715`, `2501.99998`"), reply
    assert "arXiv does not know `2501.99999`" in reply, reply
    assert "Not in the database yet: `2501.99998` (" in reply, reply


# Fault: a list of ids whose first line is a comment naming its columns (`# title, year, why I
# like it`, as the text library's comments allow) was refused as "a CSV export": the check for
# another export format read the comment as the file's first line.
def test_a_text_library_that_starts_with_a_comment_is_read_as_one(workdir):
    (workdir.path / "mine.txt").write_text(
        "# title, year, why I like it\n2403.10715  # robots\n", encoding="utf-8"
    )
    workdir.write_config(sources(workdir), sub("gina", library="mine.txt"))
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        assert store.subscriber("gina").subscriber.profile.likes == ("2403.10715",)
