"""Faults in the digest as a reader receives it (hunt32): the email parts as they arrive at a
real SMTP server (aiosmtpd on loopback), and the Slack messages as the Web API stand-in got them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from pathlib import Path

import pytest
import test_slack
from helpers import SOURCES, FeedPaper, digestbot, raw_rows, raw_sql, subscriber, write_feed
from test_email_delivery import body_parts
from test_hostile import RSS_SOURCE, _Html, write_rss
from test_trending import AGENTS, PAPERS, hf, person, received, sources_yaml
from test_web import setup_site, start_site

from digestbot.render import PaperView, Renderer, sample_digest
from digestbot.store import Store

__all__ = ["hf", "slack", "start_site"]  # fixtures: a Hugging Face daily list, the Slack API, the web app
slack = test_slack.slack


def blog_posts(n: int) -> list[tuple[str, str, str]]:
    """`n` RSS items as a blog gives them: a title, a link and a long text, no authors."""
    text = "Notes on imitation learning from a lab notebook, written up at length. " * 9
    return [(f"Post {i} on imitation learning", f"https://blog.example.org/{i}", text) for i in range(n)]


def test_a_digest_cut_to_the_compact_layout_starts_no_line_with_a_separator(workdir, smtp_server):
    # A long digest is shown compact (title, then authors · upvotes · links) to stay under
    # Gmail's clip; a post with no authors began that line with " · ".
    write_rss(workdir.path / "blog.xml", blog_posts(400))
    workdir.write_config(RSS_SOURCE, subscriber("alice", "imitation learning") + "  max_papers: 400\n")
    workdir.use_smtp(smtp_server.url)
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", "https://digest.example.org")  # rating links
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", "s")

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    _, html = body_parts(mail.message)
    lines = re.findall(r'<p class="links"[^>]*>(.*?)</p>', html, re.DOTALL)
    compact = [" ".join(_Html(line).data).strip() for line in lines]
    assert 'class="paper compact"' in html and compact
    assert not [line for line in compact if line.startswith("·") or line.endswith("·")], compact[:3]


def test_an_organization_without_authors_is_still_shown(workdir, smtp_server, hf):
    # The organization was shown only after the authors ("Ada Lovelace · Example Lab"): a paper
    # the list gave no authors lost it from both parts.
    listing, url = hf
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(sources_yaml(url), person("top", "trending: 1"))
    workdir.use_smtp(smtp_server.url)
    listing.set(A=50)
    listing.items[0]["paper"]["authors"] = []
    listing.items[0]["organization"] = {"name": "example-lab", "fullname": "Example & Lab"}

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, html = body_parts(mail.message)
    assert "\n   Example & Lab\n" in text.replace("\r\n", "\n")
    assert re.search(r'<p class="authors"[^>]*>Example &amp; Lab</p>', html)


README = Path(__file__).parent.parent / "README.md"


def test_the_readme_names_every_value_templates_see():
    # `digest` and `feedback` (and the papers' `key`, `published`, ...) reached every template
    # but the README's list left them out: a template writer could not know they were there.
    text = README.read_text(encoding="utf-8")
    listing = text[text.index("Templates see") : text.index("besides Jinja's own filters")]
    named = set(re.findall(r"`([a-z_]+)`", listing))
    ctx = Renderer().context(sample_digest(), feedback_link=lambda key, vote: "https://x.example/")
    fields = [f.name for f in dataclasses.fields(PaperView) if not f.name.endswith("_mrkdwn")]
    assert [name for name in [*ctx, *fields] if name not in named] == []


def test_trending_ties_go_to_the_newest_paper_as_in_every_other_digest(workdir, smtp_server, hf):
    # Two papers with the same upvotes: a keyword digest lists the newest first (README,
    # "Ranking"), a trending one listed the one changed last (its rev): here the older paper,
    # which the arXiv listing revised after the newer one arrived.
    listing, url = hf
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(sources_yaml(url), person("top", "trending: 2") + person("kw", "keywords: [agents]"))
    workdir.use_smtp(smtp_server.url)
    listing.set(A=50, C=50)  # A stored first, then C: C is the newest
    digestbot(workdir, "fetch")
    a_id, a_title, _ = PAPERS["A"]
    write_feed(workdir.path / "feed.xml", [FeedPaper(a_id, a_title, AGENTS + " Revised with more results.")])
    digestbot(workdir, "fetch")
    with Store(workdir.db) as store:
        a, c = (store.paper(f"arxiv:{PAPERS[n][0]}") for n in "AC")
    assert a.seq < c.seq and a.rev > c.rev  # the older paper changed last

    ranking = json.loads(digestbot(workdir, "preview", "top", "--format", "json").output)
    digestbot(workdir, "send")

    assert received(smtp_server, "kw") == [["C", "A"]]
    assert received(smtp_server, "top") == [["C", "A"]]
    assert [p["arxiv_id"] for p in ranking["papers"]] == [PAPERS["C"][0], a_id]


@pytest.mark.parametrize("stored_as", ["", "(untitled)"])  # by this version, by earlier ones
def test_the_untitled_placeholder_is_never_matched_nor_highlighted(workdir, smtp_server, stored_as):
    # A post without a title is shown as "(untitled)": that placeholder was matched as its title
    # (a keyword `untitled` brought every untitled post, scored as a title hit, 30) and
    # highlighted in it.
    body = '<rss version="2.0"><channel><title>t</title>{}</channel></rss>'
    items = (
        "<item><link>https://blog.example.org/1</link><guid>n1</guid>"
        "<description>A note on imitation learning.</description></item>"
        "<item><title>Another post</title><link>https://blog.example.org/2</link><guid>n2</guid>"
        "<description>Untitled drafts on reward models.</description></item>"
    )
    (workdir.path / "blog.xml").write_text(body.format(items), encoding="utf-8")
    workdir.write_config(
        RSS_SOURCE, subscriber("alice", "untitled") + subscriber("bob", "imitation learning", "untitled")
    )
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "fetch")
    raw_sql(workdir.db, f"UPDATE papers SET title = '{stored_as}' WHERE key = 'guid:blog:n1'")
    assert [
        r["title"] for r in raw_rows(workdir.db, "SELECT title FROM papers WHERE key = 'guid:blog:n1'")
    ] == [stored_as]
    ranking = json.loads(digestbot(workdir, "preview", "alice", "--format", "json").output)
    digestbot(workdir, "send")

    assert [(p["title"], p["score"]) for p in ranking["papers"]] == [("Another post", 10)]
    [alice] = smtp_server.to("alice@example.org")
    assert "blog.example.org/1" not in alice.message.get_body(("plain",)).get_content()
    [bob] = smtp_server.to("bob@example.org")
    text, html = body_parts(bob.message)
    assert "1. Another post" in text and "2. (untitled)" in text  # abstract hits alike: newest first
    [title] = re.findall(r'<p class="title"[^>]*>(.*?)</p>', html.split("Another post")[1], re.DOTALL)
    assert "(untitled)" in title and "hl" not in title


@pytest.mark.parametrize("extra", ["", "\nkeywords: [agents]"], ids=["trending", "trending-keywords"])
def test_preview_json_scores_a_trending_digest_by_what_ranks_it(workdir, hf, extra):
    # Every other digest's "score" is what ranks it (scores fall down the list); a trending
    # digest, ranked by upvotes, reported 0 for every paper (or the keyword score, which does
    # not follow its order: 40, 40, 41 for papers of 30, 20 and 10 upvotes).
    listing, url = hf
    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(sources_yaml(url), person("top", "trending: 3" + extra))
    listing.set(A=30, C=20, E=10)
    listing.items[2]["paper"]["title"] = "Cheap Agents for Web Tasks with Agents"  # E: a higher keyword score
    digestbot(workdir, "fetch")

    ranking = json.loads(digestbot(workdir, "preview", "top", "--format", "json").output)

    assert [(p["arxiv_id"], p["score"]) for p in ranking["papers"]] == [
        (PAPERS["A"][0], 30),
        (PAPERS["C"][0], 20),
        (PAPERS["E"][0], 10),
    ]


# --- second pass (hunt41) ------------------------------------------------------------------

LONG_TITLE = (
    "Imitation learning from human demonstrations at scale: a benchmark, a large dataset of"
    " teleoperated manipulation episodes, and an analysis of what transfers between embodiments"
    " in real kitchens"
)  # 199 characters, as long as real titles get
KEYWORDS = [f"imitation topic{i}" for i in range(12)] + ["imitation learning"]


def long_lines(text: str) -> list[str]:
    """The lines a reader's terminal or a mail client without reflow shows past 78 columns
    (RFC 5322 2.1.1's "SHOULD"), other than a line that holds a long URL, which must not be broken."""
    lines = text.replace("\r\n", "\n").split("\n")
    return [line for line in lines if len(line) > 78 and not re.search(r"https?://\S{50,}", line)]


def test_the_text_part_keeps_every_prose_line_readable(workdir, smtp_server):
    # The abstract was wrapped at 76 columns, but the title, the "Matched:" line and the
    # footer's "asks for ..." were each one line (a 199-character title, 300 for 13 keywords):
    # mutt, mu4e and any reader of the plain part saw them run off the screen.
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2403.00001", LONG_TITLE, "We study imitation learning.")]
    )
    workdir.write_config(SOURCES, subscriber("alice", *KEYWORDS))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, _ = body_parts(mail.message)
    assert long_lines(text) == []
    shown = " ".join(text.split())  # wrapped, not cut: every word is still there, in order
    assert f"1. {LONG_TITLE}" in shown
    assert "asks for keywords " + ", ".join(KEYWORDS) in shown


def columns(line: str) -> int:
    """How many columns a terminal gives a line: two for a wide (Chinese, Japanese) character."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


CHINESE_TITLE = "Imitation learning 基于大规模人类示范数据的家庭机器人模仿学习方法研究及其在真实厨房环境中跨不同机械臂形态迁移能力的系统性分析与评估"
CHINESE_ABSTRACT = (
    "我们研究 imitation learning 在家庭机器人上的应用。"
    + "本文收集了大量遥操作示范数据并训练策略模型，在多种真实厨房任务中评估其泛化能力。" * 4
)


def test_the_text_part_wraps_chinese_and_japanese_at_a_readable_width(workdir, smtp_server):
    # Chinese and Japanese write no spaces, and the wrap broke lines only at spaces (counting a
    # character as one column, where a terminal gives these two): the title and the abstract
    # were each one line of 130 and 290 columns in the plain part.
    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00002", CHINESE_TITLE, CHINESE_ABSTRACT)])
    workdir.write_config(SOURCES, subscriber("alice", "imitation learning"))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, _ = body_parts(mail.message)
    lines = text.replace("\r\n", "\n").split("\n")
    assert [line for line in lines if columns(line) > 78] == []
    joined = "".join(text.split())  # wrapped, not cut: nothing is lost or added at a break
    assert "".join(f"1. {CHINESE_TITLE}".split()) in joined
    assert "".join(CHINESE_ABSTRACT.split())[:200] in joined
    assert not [
        line for line in lines if line.strip()[:1] in tuple("，。、")
    ]  # none starts with a comma or stop


def test_the_web_pages_mails_keep_their_lines_readable(workdir, start_site):
    # The sign-up confirmation and the manage link mail wrote each sentence on one line: "here
    # is the link to manage the paper digest sent to <address> (set up by the bot's operator:
    # shown read-only)." was 140 columns for an address of 40 characters.
    address = "ada.lovelace-byron@cs.research.uni.example"
    setup_site(workdir, subscriber("ada", "quokka").replace("ada@example.org", address))
    site = start_site()
    site.browser().post("/manage/link", {"email": address})
    site.browser().sign_up("charles.babbage-analytical@engine.uni.example")
    site.settle()

    mails = site.smtp.to(address) + site.smtp.to("charles.babbage-analytical@engine.uni.example")
    assert [m.message["Subject"] for m in mails] == [
        "Your link to manage your paper digest",
        "Confirm your paper digest subscription",
    ]
    texts = [m.message.get_body(("plain",)).get_content() for m in mails]
    assert [long_lines(text) for text in texts] == [[], []], texts
    assert [text[:8] for text in texts] == ["Hello,\r\n", "Hello,\r\n"]
    assert f"sent to {address} (set up by the bot's operator: shown read-only)." in " ".join(texts[0].split())
    assert re.search(r"^https?://\S+/confirm\S*$", texts[1].replace("\r\n", "\n"), re.MULTILINE), texts[1]


def abstract_with_dots_at(*cuts: int) -> str:
    """An abstract whose character at each of `cuts` - 1 is the dot of a URL's host (`github.`),
    where a digest shortening it to `cuts` characters ends."""
    text = "We study imitation learning for household robots. "
    for i, cut in enumerate(cuts):
        url = f"https://github{i}.com/example-lab/code "
        room = cut - 1 - url.index(".") - len(text)  # characters of filler before the URL
        text += ("word " * room)[: room - 1] + " "
        text += url
    return text + "The code and the data are released. " * 5


URL_CUT_ABSTRACT = abstract_with_dots_at(300, 600)  # Slack's cut, then the email's


def cut_urls(text: str) -> list[str]:
    """The links to the example code in a text that are not the whole link."""
    return [
        u for u in re.findall(r"https://github\d[^\s<>\"|]*", text) if not u.endswith(".com/example-lab/code")
    ]


def test_a_shortened_abstract_never_ends_in_half_a_link(workdir, smtp_server, slack):
    # An abstract was cut at a "sentence end" that was the dot of a link's host (or of a number,
    # "92." of 92.5): "... https://github.  …", which mail clients and Slack link to another
    # site, because the cut tested the text it kept for a space after the dot, not the text.
    assert URL_CUT_ABSTRACT[299] == URL_CUT_ABSTRACT[599] == "."
    paper = FeedPaper("2403.00003", "Imitation learning for household robots", URL_CUT_ABSTRACT)
    write_feed(workdir.path / "feed.xml", [paper])
    workdir.write_config(
        SOURCES,
        subscriber("alice", "imitation learning") + test_slack.slack_sub("ml", "#ml", "imitation learning"),
    )
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, html = body_parts(mail.message)
    assert "https://github0.com/example-lab/code" in text  # before the cut: whole
    assert cut_urls(text) == [] and cut_urls(html) == []
    [post] = slack.posts
    [shown] = test_slack.rich_papers(post.body)
    assert "https://github0.com/example-lab/code" not in shown.abstract  # Slack's cut comes first
    assert cut_urls(json.dumps(post.body)) == []


def test_no_line_of_the_text_part_starts_with_from_on_the_wire(workdir, smtp_server, tmp_path):
    # A line that starts with "From " is a new message to an mbox mailbox (mutt's, /var/mail):
    # the server delivering it writes ">From " (RFC 4155), and the reader sees ">From Pixels to
    # Policies". A templates: folder listing titles from the margin (or a wrapped footer line)
    # sent such lines as written; quoted-printable can spell the F (=46) and nothing changes.
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "digest.txt").write_text("{% for p in papers %}{{ p.title }}\n{% endfor %}", encoding="utf-8")
    title = "From Pixels to Policies: imitation learning for robots"
    write_feed(workdir.path / "feed.xml", [FeedPaper("2403.00004", title, "We study imitation learning.")])
    workdir.write_config(
        SOURCES, subscriber("alice", "imitation learning"), extra_yaml=f"templates: {folder}"
    )
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    assert not [line for line in mail.raw.split(b"\r\n") if line.startswith(b"From ")]
    text, _ = body_parts(mail.message)
    assert text.replace("\r\n", "\n") == f"{title}\n"
