"""Seeding and rating as a reader meets them (issue 10's surface): libraries as exporters write
them, `like:` edits, the arXiv fetch by id, feedback links and buttons, `digestbot feedback`,
`/digest like`. End to end through the CLI, the real web app and real files."""

from __future__ import annotations

import pytest
import responses
import test_slack
from helpers import FeedPaper, digestbot, write_feed
from test_likes import API, PAPERS, sources, sub
from test_relevance_faults import _FEED_HEAD, fake_arxiv

from digestbot.sources import http
from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback
DEXTEROUS = "2403.10698"  # "Out-of-Dynamics Imitation Learning from Multimodal Demonstrations"


def received(workdir, sid: str) -> set[str]:
    with Store(workdir.db) as store:
        return {it.paper.key for d in store.digests(subscriber_id=sid) for it in store.digest_items(d.id)}


@pytest.mark.parametrize(
    "bib_title",
    [
        "Out-of-Dynamics Imitation Learning from Multimodal Demonstrations",  # as it is stored
        r"{\em Out-of-Dynamics} Imitation Learning from Multimodal Demonstrations",  # a font switch
        r"{\it Out-of-Dynamics\/} Imitation Learning from {\bf Multimodal} Demonstrations",
        r"Out-of-Dynamics Imitation Learning from Multi\-modal Demon\-strations",  # hyphenation hints
        r"{\itshape Out-of-Dynamics} Imitation Learning from {\scshape Multimodal} Demonstrations",
    ],
)
def test_a_library_title_in_old_tex_font_switches_finds_its_stored_paper(workdir, bib_title):
    """An entry without an arXiv id (an ACM or IEEE export, a hand-kept .bib) whose title uses
    `{\\em …}`, `{\\it …\\/}` or `\\-` is the stored paper of that title: as a liked paper, it
    never comes back as new."""
    assert PAPERS[DEXTEROUS]["title"] == "Out-of-Dynamics Imitation Learning from Multimodal Demonstrations"
    (workdir.path / "refs.bib").write_text(
        f"@inproceedings{{ood, title = {{{bib_title}}}, booktitle = {{ICRA}}}}\n", encoding="utf-8"
    )
    workdir.write_config(
        sources(workdir),
        sub("nia", keywords=["imitation learning"], library="refs.bib", max_papers=40)
        + sub("ola", keywords=["imitation learning"], max_papers=40),
    )
    digestbot(workdir, "fetch")
    digestbot(workdir, "send")
    assert f"arxiv:{DEXTEROUS}" in received(workdir, "ola")  # it matches the keyword
    assert f"arxiv:{DEXTEROUS}" not in received(workdir, "nia")  # but nia has it already


DBLP_WITH_CROSSREF = r"""
@inproceedings{DBLP:conf/icra/Ood24,
  author    = {Jane Doe},
  title     = {Out-of-Dynamics Imitation Learning from Multimodal Demonstrations},
  booktitle = {{IEEE} International Conference on Robotics and Automation, {ICRA} 2024},
  crossref  = {DBLP:conf/icra/2024},
  pages     = {1--8},
  year      = {2024},
}
@inproceedings{DBLP:conf/icra/Tactile24,
  author    = {John Roe},
  title     = {Tactile Sensing for Cooking Robots},
  crossref  = {DBLP:conf/icra/2024},
  year      = {2024},
}
@proceedings{DBLP:conf/icra/2024,
  title     = {{IEEE} International Conference on Robotics and Automation, {ICRA} 2024, Yokohama, Japan, May 13-17, 2024},
  publisher = {{IEEE}},
  year      = {2024},
  isbn      = {979-8-3503-8457-4},
}
@proceedings{eptcs,
  title     = {Proceedings of a Workshop},
  eprint    = {2401.00001},
  archivePrefix = {arXiv},
}
"""


def test_the_proceedings_volumes_of_a_dblp_export_are_no_seeds(workdir):
    """DBLP's export "with crossref" (and JabRef's) adds each paper's proceedings volume as an
    entry of its own: a volume is no paper the reader keeps, and its title ("IEEE International
    Conference on Robotics and Automation …") steered the digest as a seed text. A volume with
    an arXiv id (EPTCS publishes them there) is one paper all the same."""
    (workdir.path / "dblp.bib").write_text(DBLP_WITH_CROSSREF, encoding="utf-8")
    workdir.write_config(sources(workdir), sub("pia", library="dblp.bib"))
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        profile = store.subscriber("pia").subscriber.profile
    assert profile.likes == ("2401.00001",)
    assert [t.partition(".")[0] for t in profile.seed_texts] == [
        "Out-of-Dynamics Imitation Learning from Multimodal Demonstrations",
        "Tactile Sensing for Cooking Robots",
    ]


def empty_then_answering(known: set[str]):
    """arXiv's export API as it is at times: a valid feed with no entries at all for an id_list
    it does know (HTTP 200), then the real answer."""
    answer, calls = fake_arxiv(known), []

    def respond(request):
        calls.append(request.url)
        if len(calls) == 1:
            return 200, {"Content-Type": "application/atom+xml"}, _FEED_HEAD.format(n=0) + "</feed>\n"
        return answer(request)

    return respond


@responses.activate
def test_an_empty_answer_from_the_arxiv_api_is_asked_again_not_every_liked_id_unknown(workdir, monkeypatch):
    """The export API sometimes answers a valid, empty feed for ids it knows (as the arxiv
    package's UnexpectedEmptyPageError retries). Taken as it was, every liked id of the batch
    was "not on arXiv": the reader told to check ids that are right, `run` not asking again for
    an hour. It is asked again; an id still unanswered then is unknown, as before."""
    monkeypatch.setitem(http.HOST_INTERVALS, "export.arxiv.org", 0.0)
    liked = ["2501.00007", "2501.00042"]
    responses.add_callback(responses.GET, API, callback=empty_then_answering(set(liked)))
    workdir.write_config(sources(workdir), sub("carol", like=liked))

    out = digestbot(workdir, "fetch").output

    assert "liked papers: 2 new" in out and "not on arXiv" not in out, out
    assert "not on arXiv" not in digestbot(workdir, "status").output
    with Store(workdir.db) as store:
        assert store.missing_likes() == []
    assert len(responses.calls) == 2


@responses.activate
def test_an_id_list_answered_empty_twice_is_not_on_arxiv(workdir, monkeypatch):
    """arXiv answers an empty feed for ids it does not know, too: asked again once, not forever."""
    monkeypatch.setitem(http.HOST_INTERVALS, "export.arxiv.org", 0.0)
    body = _FEED_HEAD.format(n=0) + "</feed>\n"
    responses.add(responses.GET, API, body=body, content_type="application/atom+xml")
    workdir.write_config(sources(workdir), sub("carol", like=["2501.99999"]))

    assert "not on arXiv: 2501.99999" in digestbot(workdir, "fetch").output
    assert len(responses.calls) == 2


HAND_KEPT = r"""@string{icra = "International Conference on Robotics and Automation"}
@string{ood = "Out-of-Dynamics Imitation Learning"}

@inproceedings{ood24,
  title     = ood # " from Multimodal Demonstrations",
  booktitle = icra # { (ICRA)},
}
@article{motiontracks,
  title  = {Motion Tracks: A Unified Representation for Human-Robot Transfer}, % from Scholar
  eprint = {2403.10715},
  archivePrefix = {arXiv},
}
@article{commented,
  title  = {Tactile Sensing for Cooking Robots},
  % eprint = {2403.10886},
}
"""


def test_a_hand_kept_library_with_string_macros_and_comments_is_read_as_bibtex_reads_it(workdir):
    """@string macros joined with `#` were taken as written ("ood # from Multimodal …", which
    finds no stored paper), and a `% comment` after a field hid the field after it (the eprint
    lost: the paper used as a title only). A field commented out stays out."""
    (workdir.path / "refs.bib").write_text(HAND_KEPT, encoding="utf-8")
    workdir.write_config(sources(workdir), sub("quin", library="refs.bib"))
    digestbot(workdir, "check")
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        profile = store.subscriber("quin").subscriber.profile
    assert profile.likes == ("2403.10715",)
    assert profile.seed_texts == (
        "Out-of-Dynamics Imitation Learning from Multimodal Demonstrations.",
        "Tactile Sensing for Cooking Robots.",
    )


def test_digest_like_of_many_long_titled_papers_is_a_reply_slack_shows_whole(workdir, start_web):
    """`/digest like` with as many ids as a command holds listed each paper's whole title (up to
    1,000 characters): 170 long-titled papers made a reply of 100,000 characters, which Slack
    cuts off unannounced at 40,000. Titles are cut to a line, as `/digest likes` cuts them."""
    papers = [
        FeedPaper(f"2403.{n:05d}", f"Paper {n} " + "on very long titles " * 30, "An abstract.")
        for n in range(170)
    ]
    write_feed(workdir.path / "feed.xml", papers)
    workdir.write_config("- name: feed\n  type: arxiv_rss\n  url: feed.xml\n", sub("carol", keywords=["x"]))
    digestbot(workdir, "fetch")
    reply = start_web().command("like " + " ".join(p.aid for p in papers), user="U0LIKER01")
    assert len(reply) < 40_000, len(reply)
    assert reply.startswith("Liked `2403.00000`") and reply.count("\n• `2403.") == 170
    with Store(workdir.db) as store:
        assert len(store.subscriber("slack:U0LIKER01").subscriber.profile.likes) == 170


def test_a_comment_after_a_link_in_a_text_library_is_a_comment(workdir):
    """A `# comment` after an id was a comment, but after a link it was read as part of it (a
    link may hold `#`): one naming another paper made `check` refuse the library. A comment
    starts at a `#` after white space; a link's own `#fragment` stays the link's."""
    (workdir.path / "reading.txt").write_bytes(
        b"# reading list\r\n"
        b"https://arxiv.org/abs/2403.10715v2  # the follow-up of 2403.10886\r\n"
        b"https://arxiv.org/abs/2403.10698#abstract\r\n"
        b"\r\n2403.10281 # a note on https://arxiv.org/abs/2403.10886\r\n"
    )
    workdir.write_config(sources(workdir), sub("rui", library="reading.txt"))
    digestbot(workdir, "check")
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        assert store.subscriber("rui").subscriber.profile.likes == ("2403.10715", "2403.10698", "2403.10281")
