"""Rendering: templates, user overrides with fallback, escaping, highlighting, the email message."""

import json
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from reader_digests import LONG_URL, links, reader_digest, reader_paper, rough_papers
from slack_sdk.models.blocks import Block

from digestbot.delivery.message import build_email, make_message_id
from digestbot.models import Digest, Match, Paper, Profile, Subscriber
from digestbot.render import HTML_BUDGET, Renderer, highlight, mrkdwn_highlight, rich_text, safe_url
from digestbot.text import shorten

WHEN = datetime(2024, 3, 14, 7, 0, tzinfo=UTC)


def digest(papers: list[Paper], terms=("diffusion policy",), total=None, **sub) -> Digest:
    subscriber = Subscriber(id="alice", email="alice@example.org", profile=Profile(keywords=terms), **sub)
    matches = [Match(p, 40, terms) for p in papers]
    return Digest(subscriber, matches, total if total is not None else len(matches), created=WHEN)


def paper(
    i=1, title="Streaming Diffusion Policy", abstract="We make diffusion policies fast. It works.", **kw
):
    fields = {
        "authors": ("Søren Åberg", "Amara Okafor"),
        "link": f"https://arxiv.org/abs/2403.2000{i}",
        "pdf_url": f"https://arxiv.org/pdf/2403.2000{i}",
        "categories": ("cs.LG",),
        **kw,
    }
    return Paper(key=f"arxiv:2403.2000{i}", title=title, abstract=abstract, **fields)


def test_email_parts_have_the_paper_and_why():
    parts = Renderer().email(digest([paper()]))
    assert "Streaming Diffusion Policy" in parts.subject
    assert "1. Streaming Diffusion Policy" in parts.text
    assert "https://arxiv.org/abs/2403.20001" in parts.text
    assert "Søren Åberg, Amara Okafor" in parts.text
    assert "keywords diffusion policy" in parts.text  # why they got it
    assert "To change your topics or schedule" in parts.text  # what the reader can do
    assert "subscriptions.yaml" not in parts.text and "subscriptions.yaml" not in parts.html
    assert '<a href="https://arxiv.org/abs/2403.20001"' in parts.html
    assert 'href="https://arxiv.org/pdf/2403.20001"' in parts.html


def test_html_highlights_matches_and_inlines_css():
    html = Renderer().email(digest([paper()])).html
    assert re.search(
        r'<span class="hl" style="[^"]*background-color: #fef08a[^"]*">Diffusion Policy</span>', html
    )
    assert ">diffusion policies</span>" in html and "<mark" not in html  # Outlook and Yahoo drop <mark>
    # Only the @media rules (the dark palette) stay in a <style> block; the rest is inlined
    [style] = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    assert style.strip().startswith("@media (prefers-color-scheme: dark)") and style.count("@media") == 1
    assert 'style="' in html


def test_hostile_text_is_escaped():
    evil = paper(title="<script>alert(1)</script> & <b>bold</b>", abstract='<img src=x onerror="alert(1)">')
    parts = Renderer().email(digest([evil]))
    assert "<script>" not in parts.html and "<img" not in parts.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in parts.html


def test_only_http_links_are_kept():
    assert safe_url("javascript:alert(1)") == ""
    assert safe_url("data:text/html,hi") == ""
    assert safe_url('https://ok.org/"onmouseover=x') == ""
    assert safe_url("https://arxiv.org/abs/1") == "https://arxiv.org/abs/1"
    html = Renderer().email(digest([paper(link="javascript:alert(1)")])).html
    assert "javascript:" not in html


def test_more_line_when_capped():
    parts = Renderer().email(digest([paper(1), paper(2)], total=7))
    assert "7 new papers" in parts.subject
    assert "and 5 more matched" in parts.text
    assert "and 5 more matched" in parts.html


def test_abstract_cut_at_a_sentence():
    long = "First sentence here. " * 60
    cut = shorten(long.strip(), 100)
    assert cut.endswith("here. …") and len(cut) <= 102


def test_highlight_escapes_around_marks():
    out = highlight("a <b> diffusion & policy", ("diffusion",))
    assert str(out) == 'a &lt;b&gt; <span class="hl">diffusion</span> &amp; policy'


def test_user_templates_override_and_fall_back(tmp_path):
    (tmp_path / "digest.subject.txt").write_text("Custom: {{ total }} for {{ subscriber.id }}")
    parts = Renderer(tmp_path).email(digest([paper()]))
    assert parts.subject == "Custom: 1 for alice"
    assert "1. Streaming Diffusion Policy" in parts.text  # default text template still used


def test_subject_is_one_line_even_with_newlines_in_titles():
    parts = Renderer().email(digest([paper(title="Line one\nline two\u2028three\r\nfour")]))
    assert "\n" not in parts.subject and "\u2028" not in parts.subject and "\r" not in parts.subject


def test_build_email_is_multipart_utf8_with_stable_id():
    d = digest([paper(title="Zoë's Schrödinger Bridges for diffusion policy")])
    parts = Renderer().email(d)
    mid = make_message_id("alice", WHEN, "Digest <digest@example.org>")
    msg = build_email(
        parts,
        sender="Digest <digest@example.org>",
        to="alice@example.org",
        message_id=mid,
        date=WHEN,
        unsubscribe=["https://x.org/u?t=1"],
        one_click=True,
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=default)
    assert parsed["Subject"].startswith("1 new paper for you: Zoë's Schrödinger")
    assert parsed["Message-ID"] == mid and mid.endswith("@example.org>")
    assert parsed["List-Unsubscribe"] == "<https://x.org/u?t=1>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in parsed.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parsed.iter_parts())
    assert "Schrödinger" in parsed.get_body(("plain",)).get_content()


# --- what the reader sees (issue 11) -------------------------------------------------------


def test_html_stays_under_gmails_clip_at_max_papers_1000_with_the_footer_inside():
    papers = rough_papers() + [reader_paper(i) for i in range(10, 1003)]
    parts = Renderer().email(reader_digest(papers, total=1500), **links())
    size = len(parts.html.encode("utf-8"))
    assert size <= HTML_BUDGET < 102_000
    footer = parts.html.index('id="digest-footer"')
    assert parts.html.index("Unsubscribe</a>", footer) < parts.html.index("</html>")
    shown = parts.html.count('class="paper')
    assert 50 <= shown < 1000 and parts.html.count('class="abstract"') >= 10  # the best still in full
    assert f"…and {1500 - shown} more matched. This email shows the best {shown}" in parts.html
    assert f"…and {1500 - shown} more matched" in parts.text  # the text part shows the same papers
    assert "Manage your digest" in parts.html.split("…and")[1]


def test_a_digest_that_fits_is_not_cut():
    parts = Renderer().email(reader_digest([reader_paper(i) for i in range(10, 30)]), **links())
    assert parts.html.count('class="paper"') == 20 and "compact" not in parts.html


def test_never_highlighted_inside_a_url():
    text = f"See {LONG_URL.replace('very-long', 'imitation-learning')} for imitation learning code."
    html = str(highlight(text, ("imitation learning",)))
    assert html.count('<span class="hl">') == 1 and html.endswith(
        '<span class="hl">imitation learning</span> code.'
    )
    slack = mrkdwn_highlight(text, ("imitation learning",))
    assert slack.count("*") == 2 and "*imitation learning* code." in slack
    elements = rich_text(text, ("imitation learning",))
    assert [e["type"] for e in elements] == ["text", "link", "text", "text", "text"]
    assert elements[1]["url"].startswith("https://github.com/example-lab/imitation-learning")


def test_reader_texts_say_what_the_reader_can_do():
    for kw in ({}, links()):
        digest = reader_digest([reader_paper(1), reader_paper(2)], total=9, max_papers=2)
        parts = Renderer().email(digest, **kw)
        for part in (parts.text, parts.html):
            assert "subscriptions.yaml" not in part and "max_papers" not in part and "operator" not in part
        if kw:
            assert "Manage your digest: https://digest.example.org/manage?t=" in parts.text
            assert '<a href="https://digest.example.org/manage?t=' in parts.html
        else:
            assert "Manage your digest" not in parts.text and "best 2 each time" in parts.text


def test_hugging_face_fields_are_shown_and_checked():
    p = reader_paper(
        1, thumbnail_url="http://insecure.example/t.png", github_url="javascript:alert(1)", github_stars=None
    )
    html = Renderer().email(reader_digest([reader_paper(2), p]), **links()).html
    assert 'src="https://cdn-thumbnails.huggingface.co/' in html and "insecure.example" not in html
    assert re.search(
        r'<img class="thumb" alt="Preview of the paper" src="https://[^"]+" width="160" height="90" ', html
    )
    assert 'href="https://github.com/example-lab/paper-2"' in html and "★ 1.2k" in html
    assert "javascript:" not in html
    assert "Project page</a>" in html and "Hugging Face</a>" in html and "98 upvotes" in html
    assert "AI summary" not in html  # only when asked
    asked = Renderer().email(reader_digest([reader_paper(2)]), show_ai_summary=True)
    assert "AI summary: The paper teaches robots" in asked.html and "AI summary:" in asked.text


def test_html_is_built_for_outlook_and_dark_mode():
    html = Renderer().email(reader_digest(rough_papers())).html
    assert '<!--[if mso]><table role="presentation" width="600"' in html  # Outlook ignores max-width
    assert re.search(r'<div class="outer" style="background-color: #f5f5f4;color: #1c1917;font-family', html)
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html and "<mark" not in html
    assert html.count('dir="auto"') >= 4 * len(rough_papers())


def test_every_slack_payload_passes_block_kit_and_slacks_limits():
    for digest in (
        reader_digest(rough_papers(), slack=True),
        reader_digest(rough_papers() + [reader_paper(i) for i in range(10, 300)], total=400, slack=True),
    ):
        for extra in ({}, {"manage_url": "https://digest.example.org/manage?t=x", "show_ai_summary": True}):
            for message in Renderer().slack(digest, feedback_link=lambda k, v: "https://x.org/f", **extra):
                assert 0 < len(message["text"]) < 4000 and 0 < len(message["blocks"]) <= 50
                for block in message["blocks"]:
                    parsed = Block.parse(block)
                    assert parsed is not None and parsed.type == block["type"]
                    parsed.validate_json()
                    assert len(json.dumps(block)) < 12_000


def test_slack_titles_show_as_written():
    [message] = Renderer().slack(reader_digest(rough_papers()[4:5], slack=True))
    [paper] = [b for b in message["blocks"] if b["type"] == "rich_text"]
    title = paper["elements"][0]["elements"][0]
    assert title["type"] == "link" and title["style"] == {"bold": True}
    assert title["text"] == "Robot *bold* _it_ ~strike~ `code` <b>tag</b> & <\u2060!channel>"


def test_a_split_slack_digest_keeps_each_papers_buttons_with_it():
    digest = reader_digest([reader_paper(i) for i in range(10, 80)], slack=True)
    messages = Renderer().slack(digest, feedback_link=lambda k, v: "https://x.org/f")
    assert len(messages) >= 3
    for message in messages:
        kinds = [b["type"] for b in message["blocks"]]
        assert len(kinds) <= 50
        for i, kind in enumerate(kinds):
            if kind == "actions":
                assert kinds[i - 1] == "rich_text"  # the paper it rates is just above


def test_a_template_too_big_on_its_own_still_shows_the_best_paper(tmp_path):
    big = (Path(__file__).parent.parent / "templates" / "digest.html").read_text(encoding="utf-8")
    big = big.replace('<p class="head">', "<p>" + "padding text " * 9000 + '</p><p class="head">')
    (tmp_path / "digest.html").write_text(big, encoding="utf-8")
    parts = Renderer(tmp_path).email(reader_digest([reader_paper(i) for i in range(10, 40)]))
    assert parts.html.count('class="paper') == 1 and "…and 29 more matched" in parts.html


def test_hostile_hugging_face_fields_are_text_or_dropped():
    evil = reader_paper(
        1,
        thumbnail_url='https://x.org/a.png" onerror="alert(1)',
        github_url="https://github.com/a/b\u202e/evil",
        project_url="data:text/html,<script>alert(1)</script>",
        hf_url="javascript:alert(1)",
        organization="<script>alert(1)</script> Lab",
        ai_summary='<img src=x onerror="alert(1)">',
    )
    parts = Renderer().email(reader_digest([evil]), show_ai_summary=True)
    html = parts.html
    assert "<img" not in html and '&lt;img src=x onerror="alert(1)"&gt;' in html  # text, not a tag
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Lab" in html
    assert "Code:" not in html and "Project page" not in html and "Hugging Face</a>" not in html
    assert "javascript:" not in html and "data:text" not in html and "data:text" not in parts.text
    [message] = Renderer().slack(reader_digest([evil], slack=True), show_ai_summary=True)
    [paper] = [b for b in message["blocks"] if b["type"] == "rich_text"]
    meta = paper["elements"][1]["elements"]
    assert [e["url"] for e in meta if e["type"] == "link"] == [evil.pdf_url]  # no code, project, HF link


def test_slack_never_sends_an_empty_text_element():
    empty = reader_paper(1, title=" ", abstract="", authors=())
    digest = reader_digest([empty], slack=True)
    digest.matches[0].reasons = ("",)
    [message] = Renderer().slack(digest)
    for block in message["blocks"]:
        Block.parse(block).validate_json()
        if block["type"] == "rich_text":
            texts = [e.get("text") for s in block["elements"] for e in s["elements"]]
            assert "" not in texts and all(s["elements"] for s in block["elements"])


def test_the_footer_says_why_for_every_kind_of_profile():
    for profile, said in (
        (Profile(trending=10), "the 10 most upvoted new papers on Hugging Face"),
        (
            Profile(trending=5, keywords=("agents",)),
            "the 5 most upvoted new papers on Hugging Face; keywords agents",
        ),
        (Profile(likes=("2303.04137", "2006.11239")), "papers like the 2 you liked"),
    ):
        sub = Subscriber(id="a", email="a@example.org", profile=profile)
        parts = Renderer().email(Digest(sub, [Match(reader_paper(1), 1)], 1, created=WHEN))
        text = " ".join(parts.text.split())  # wrapped at 76 columns
        assert f"your profile asks for {said}." in text and "nothing yet" not in text
