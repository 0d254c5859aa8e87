"""Faults in what a reader receives: the digest email's headers and parts as they arrive at a
real SMTP server (aiosmtpd on loopback), parsed with the email package as a mail client would.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import test_slack
from helpers import FeedPaper, digestbot, ledger, raw_sql, subscriber
from test_email_delivery import ALICE, body_parts
from test_email_delivery import setup as write_setup
from test_hostile import RSS_SOURCE, _Html, paper_block, write_rss
from test_slack import rich_papers, slack_sub

slack = test_slack.slack  # the fixture: a Slack Web API stand-in

ENCODED_WORD_TITLE = FeedPaper(
    "2501.30001",
    "=?utf-8?q?=E2=80=AEfdp.exe=0D=0ABcc:_evil@example.org?= imitation learning",
    "We train robots with imitation learning.",
)


def test_a_title_that_looks_like_an_encoded_word_reaches_the_subject_as_written(workdir, smtp_server):
    # Text from a feed that spells an RFC 2047 encoded word would be decoded by the reader's mail
    # client: a right-to-left override and a line break the title cleaning had kept out.
    write_setup(workdir, [ENCODED_WORD_TITLE], ALICE)
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    subject = str(mail.message["Subject"])
    assert subject == "1 new paper for you: " + ENCODED_WORD_TITLE.title
    assert not any(c in subject for c in "\r\n\u202e")
    text, _ = body_parts(mail.message)
    assert ENCODED_WORD_TITLE.title in " ".join(text.split())  # wrapped at 76 columns


def test_a_sender_and_links_on_a_non_ascii_domain_give_ascii_structured_headers(workdir, smtp_server):
    # Message-ID and List-Unsubscribe are structured: an encoded word there is no id and no link
    # (clients cannot thread a resent digest, nor offer the unsubscribe button).
    write_setup(
        workdir,
        [ENCODED_WORD_TITLE],
        ALICE,
        email_from="Paper digest <digest@exämple.org>",
        email_yaml="unsubscribe_mailto: digest-admin@exämple.org",
    )
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", "https://digest.exämple.org")
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", "s")
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    head = mail.raw.split(b"\r\n\r\n")[0]
    assert head.isascii() and b"=?" not in head.split(b"Message-ID:")[1].split(b"\r\n")[0]
    message_id = mail.message["Message-ID"]
    assert message_id.startswith("<digest.alice.") and message_id.endswith("@xn--exmple-cua.org>")
    assert message_id == ledger(workdir.db)[0].message_id  # a retry sends the same id
    unsubscribe = [u.strip().strip("<>") for u in mail.message["List-Unsubscribe"].split(",")]
    assert unsubscribe[0].startswith("https://digest.xn--exmple-cua.org/unsubscribe?t=")
    assert unsubscribe[1] == "mailto:digest-admin@xn--exmple-cua.org?subject=unsubscribe%20alice"
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


PHISHING = FeedPaper(
    "2501.30002",
    "Imitation learning in the wild",
    'We train robots. <a href="https://phish.example/login">Verify your account</a> <b>now</b>.',
)


def test_what_the_html_template_includes_is_escaped_whatever_its_name(workdir, smtp_server):
    # Jinja decides escaping by the file name: a `.html.j2` or `.jinja` file that digest.html
    # includes or imports put feed text into the HTML part as markup.
    folder = workdir.path / "my-templates"
    folder.mkdir()
    (folder / "digest.html").write_text(
        '<html><body>{% for p in papers %}{% include "paper.html.j2" %}{% endfor %}'
        '{% import "links.jinja" as links %}{{ links.footer(why) }}</body></html>\n',
        encoding="utf-8",
    )
    (folder / "paper.html.j2").write_text('<p class="abstract">{{ p.abstract }}</p>\n', encoding="utf-8")
    (folder / "links.jinja").write_text(
        '{% macro footer(why) %}<p class="foot">{{ why }}</p>{% endmacro %}\n', encoding="utf-8"
    )
    write_setup(workdir, [PHISHING], ALICE, extra_yaml="templates: my-templates/")
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    _, html = body_parts(mail.message)
    assert "phish.example" in html and "<a " not in html and "<b>" not in html
    assert "&lt;a href=" in html and "&lt;b&gt;now&lt;/b&gt;" in html  # shown as the text it is


LOOK_ALIKE = "https://\u0430rxiv.org/abs/2501.40001"  # a Cyrillic а: not arxiv.org
LOOK_ALIKE_ASCII = "https://xn--rxiv-43d.org/abs/2501.40001"


def test_a_look_alike_host_is_shown_and_linked_as_the_host_it_is(workdir, smtp_server):
    # The host beside each link says where it goes: in Unicode, a Cyrillic а made a phishing
    # host read "arxiv.org" there, in the plain-text link, and in the link the reader opens.
    write_rss(
        workdir.path / "blog.xml", [("Imitation learning, homographs", LOOK_ALIKE, "imitation learning.")]
    )
    workdir.write_config(RSS_SOURCE, ALICE)
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, html = body_parts(mail.message)
    assert LOOK_ALIKE_ASCII in text and "\u0430" not in text
    block = paper_block(html, "homographs")
    assert re.findall(r'href="([^"]+)"', block)[0] == LOOK_ALIKE_ASCII
    assert _Html(block).text.split()[-1] == "xn--rxiv-43d.org" and "\u0430" not in block  # the host shown


SAMPLE_FEED = Path(__file__).parent.parent / "digestbot" / "samples" / "sample-feed.xml"


def every_cs_paper(sid: str) -> str:
    return f"- id: {sid}\n  email: {sid}@example.org\n  categories: [cs]\n  max_papers: 1000\n"


def more_line(mail) -> tuple[int, str]:
    """How many papers a digest shows, and its "…and N more" line (text part)."""
    text, _ = body_parts(mail.message)
    shown = len(set(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", text)))
    paragraphs = (p.strip() for p in text.replace("\r\n", "\n").split("\n\n"))
    paragraph = next(p for p in paragraphs if p.startswith("…and "))
    return shown, " ".join(paragraph.split())  # the paragraph, unwrapped


def test_a_digest_cut_for_size_says_so_and_not_that_max_papers_cut_it(workdir, smtp_server):
    # 145 papers, max_papers 1000: the email shows what fits under Gmail's clip. It said "Your
    # digest shows the best 87 each time" (max_papers is 1000), and a retry said only that.
    workdir.write_config(
        f"- name: sample\n  type: arxiv_rss\n  url: {SAMPLE_FEED}\n",
        every_cs_paper("alice") + every_cs_paper("bob"),
    )
    workdir.use_smtp(smtp_server.url)
    smtp_server.refuse_next(1)  # one of the two digests fails, and is retried

    digestbot(workdir, "run", "--once", expect=1)
    digestbot(workdir, "send", "--force")

    assert len(smtp_server.messages) == 2 and [d.status for d in ledger(workdir.db)] == ["sent", "sent"]
    for mail in smtp_server.messages:
        shown, line = more_line(mail)
        assert 10 < shown < 145
        assert line == (
            f"…and {145 - shown} more matched. This email shows the best {shown}, so that every mail"
            " client shows it whole."
        )


def test_a_digest_retried_hours_later_is_dated_when_it_is_sent(workdir, smtp_server):
    # Dated when first tried, a digest sent after a 4-hour outage is "from the past"
    # (SpamAssassin's DATE_IN_PAST_03_06: up to 2.4 points), and sorts below newer mail.
    write_setup(workdir, [ENCODED_WORD_TITLE], ALICE)
    workdir.use_smtp(smtp_server.url)
    smtp_server.refuse_next(1)
    digestbot(workdir, "run", "--once", expect=1)
    [record] = ledger(workdir.db)
    four_hours_ago = (record.created_at - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raw_sql(workdir.db, f"UPDATE digests SET created_at = '{four_hours_ago}'")
    before = datetime.now(UTC).replace(microsecond=0)

    digestbot(workdir, "send", "--force")

    [mail] = smtp_server.messages
    assert mail.message["Date"].datetime >= before
    assert mail.message["Message-ID"] == record.message_id  # the same digest, as recorded


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("digest.html", "<!-- my digest, after the default\n{% include 'parts.html' ignore missing %}\n"),
        ("digest.html", "<html><head><title>{{ date_text }}</title></head><body>\n</body></html>\n"),
        ("digest.txt", "{# the plain part, to do #}\n"),
    ],
)
def test_a_template_that_renders_no_text_is_a_problem_and_nothing_is_sent(workdir, smtp_server, name, body):
    # An unclosed comment, or a file left empty: every reader got an email that showed nothing.
    folder = workdir.path / "my-templates"
    folder.mkdir()
    (folder / name).write_text(body, encoding="utf-8")
    write_setup(workdir, [ENCODED_WORD_TITLE], ALICE, extra_yaml="templates: my-templates/")
    workdir.use_smtp(smtp_server.url)

    for command in (["check"], ["run", "--once"]):
        result = digestbot(workdir, *command, expect=2)
        assert f"my-templates/{name}:1: template: rendered no text" in result.output, result.output
    assert smtp_server.messages == [] and ledger(workdir.db) == []


def test_the_text_parts_footer_is_set_off_by_the_signature_separator(workdir, smtp_server):
    # RFC 3676 4.3: a signature starts after a line of "-- " (dash, dash, space). The text part
    # had "--": no separator to mail clients, which show the footer (unsubscribe link and all)
    # as part of the digest and quote it in every reply, instead of greying it and leaving it out.
    write_setup(workdir, [ENCODED_WORD_TITLE], ALICE)
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, _ = body_parts(mail.message)
    lines = text.splitlines()
    assert lines.count("-- ") == 1 and "--" not in lines, lines
    signature = lines[lines.index("-- ") + 1 :]
    assert signature[0].startswith("You get this digest because your profile asks for")
    assert signature[-1].startswith("Sent by digestbot")
    papers = text.replace("\r\n", "\n").split("\n-- \n")[0]
    assert ENCODED_WORD_TITLE.title in " ".join(papers.split())  # the papers come before it


@pytest.mark.parametrize(
    "name",
    ["Paper digest, ML Lab", "ML Lab: papers", "Papers @ the ML Lab", "Zoë's Lab, Université de Montréal"],
)
def test_the_senders_name_reaches_the_from_header_as_written(workdir, smtp_server, name):
    # `from: Paper digest, ML Lab <digest@example.org>` was "not an email address" to check, and
    # `ML Lab: papers <...>` went out From "papers": the value was read as RFC 5322 syntax, where
    # a comma separates addresses and a colon ends a group's name. A name is what is before <…>.
    write_setup(workdir, [ENCODED_WORD_TITLE], ALICE, email_from=f"{name} <digest@example.org>")
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "check")
    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    assert mail.mail_from == "digest@example.org"
    [sender] = mail.message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (name, "digest@example.org")


DECOMPOSED = FeedPaper(  # "café" written as e + U+0301 COMBINING ACUTE ACCENT, as some feeds do
    "2501.30003",
    "Imitation learning for a robot barista in a cafe\u0301",
    "Robots serve coffee in a cafe\u0301 after imitation learning from baristas.",
)


def test_a_highlighted_word_keeps_its_combining_accent(workdir, smtp_server, slack):
    # The matcher drops combining marks, so a highlight of "cafe\u0301" ended before its accent:
    # the HTML had <span class="hl">cafe</span>\u0301 (an accent outside the highlight, drawn on
    # nothing in some clients), and Slack a bold "cafe" and a text element of a lone accent.
    write_setup(workdir, [DECOMPOSED], subscriber("alice", "café") + slack_sub("ml", "#ml", "café"))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    _, html = body_parts(mail.message)
    marked = re.findall(r'<span class="hl"[^>]*>([^<]*)</span>(.?)', html)
    assert marked and all(word == "cafe\u0301" and after != "\u0301" for word, after in marked), marked
    [post] = slack.posts
    [paper] = rich_papers(post.body)
    assert paper.bold and set(paper.bold) == {"cafe\u0301"}, paper.bold
    elements = [
        e for block in post.body["blocks"] if block["type"] == "rich_text" for e in block_texts(block)
    ]
    assert not any(e.startswith("\u0301") for e in elements), elements


def block_texts(node) -> list[str]:
    """The text of every element of a rich_text block."""
    if isinstance(node, list):
        return [t for n in node for t in block_texts(n)]
    if not isinstance(node, dict):
        return []
    own = [node["text"]] if isinstance(node.get("text"), str) else []
    return own + block_texts(node.get("elements", []))


URLS_IN_TEXT = FeedPaper(
    "2501.30004",
    "Imitation learning, with links",
    "Imitation learning (code: https://github.com/lab/policy). See"
    " https://en.wikipedia.org/wiki/Diffusion_(disambiguation), a stray https://) and www.) too.",
)


def test_urls_in_an_abstract_link_to_the_address_written_in_slack(workdir, slack):
    # A URL's end was found by dropping every closing bracket: Wikipedia's .../Diffusion_(disambiguation)
    # linked to .../Diffusion_(disambiguation (another page), and `https://)` or `www.)` became links
    # to "https://" and "https://www", nowhere.
    write_setup(workdir, [URLS_IN_TEXT], slack_sub("ml", "#ml", "imitation learning"))

    digestbot(workdir, "run", "--once")

    [post] = slack.posts
    [block] = [b for b in post.body["blocks"] if b["type"] == "rich_text"]
    section = block["elements"][0]["elements"]  # the title, a line break, the authors, another
    abstract = section[max(i for i, e in enumerate(section) if e["text"] == "\n") + 1 :]
    assert [e["url"] for e in abstract if e["type"] == "link"] == [
        "https://github.com/lab/policy",
        "https://en.wikipedia.org/wiki/Diffusion_(disambiguation)",
    ]
    assert all(e["text"] == e["url"] for e in abstract if e["type"] == "link")
    assert "".join(e["text"] for e in abstract) == URLS_IN_TEXT.abstract  # all of it, as written


# Chinese and Japanese write no spaces between words, and end sentences with "。".
CHINESE = FeedPaper(
    "2501.30005",
    "基于 Transformer 的模仿学习" + "：从少量人类示范中学习复杂的机器人操作技能" * 4,
    "我们提出了一种基于 Transformer 的模仿学习方法。"
    + "该方法可以从少量人类示范中学习复杂的操作技能，并在真实机器人上取得了很好的效果。" * 20,
)


def test_chinese_text_is_shortened_at_a_sentence_not_at_its_one_space(workdir, smtp_server, slack):
    # An abstract (or title) was cut at its last space within the limit, else at the limit: a
    # Chinese abstract with one English word showed 21 characters of its 1,000 (email and
    # Slack alike), the subject said "基于…", and text without a space was cut mid-sentence, as
    # "。" was no sentence end.
    write_setup(
        workdir, [CHINESE], subscriber("alice", "transformer") + slack_sub("ml", "#ml", "transformer")
    )
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    _, html = body_parts(mail.message)
    shown = _Html(paper_block(html, "Transformer")).text
    abstract = shown.split("Ada Lovelace, Alan Turing")[1].split("Matched:")[0].strip()
    assert 500 < len(abstract) <= 602 and abstract.endswith("。 …"), abstract
    assert str(mail.message["Subject"]).startswith("1 new paper for you: 基于 Transformer 的模仿学习：从少量")
    [paper] = rich_papers(slack.posts[0].body)
    assert 200 < len(paper.abstract) <= 302 and paper.abstract.endswith("。 …"), paper.abstract


ZALGO_MARKS = (
    "\u0336\u0315\u031b\u0340\u0341\u0358\u0321\u0322\u0327\u0328\u0334\u0335\u0337\u0338\u0316\u0317" * 2
)


def zalgo(word: str) -> str:
    """`word` with 32 combining marks on each letter, stacked far above and below the line."""
    return "".join(c + ZALGO_MARKS for c in word)


ZALGO = FeedPaper(
    "2501.30006",
    f"Imitation learning for {zalgo('robots')}",
    f"Imitation learning. {zalgo('Unreadable')} text.",
)


def longest_marks(text: str) -> int:
    """The longest run of combining marks in `text`."""
    return max((len(m) for m in re.findall(r"[\u0300-\u036f]+", text)), default=0)


def test_stacks_of_combining_marks_are_cut_down_so_the_digest_stays_readable(workdir, smtp_server, slack):
    # Dozens of combining marks on each letter ("zalgo" text) are drawn stacked far above and
    # below the line, over the papers around it and the footer: a feed could deface a digest.
    # No script needs more than a few on one letter; more than 8 are dropped from what is shown.
    write_setup(workdir, [ZALGO], ALICE + slack_sub("ml", "#ml", "imitation learning"))
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    text, html = body_parts(mail.message)
    subject = str(mail.message["Subject"])
    posted = json.dumps(slack.posts[0].body, ensure_ascii=False)
    for shown in (subject, text, html, posted):
        assert longest_marks(shown) <= 8, shown
        assert "robots" in re.sub(r"[\u0300-\u036f]", "", shown)  # every letter still there
