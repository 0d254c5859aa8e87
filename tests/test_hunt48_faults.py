"""Faults found by seeding profiles with papers and rating them as readers do: signed rating
links answered by the real web app on loopback, Slack buttons whose ephemeral answer reaches a
local HTTPS stand-in for Slack's response_url, libraries read by the real CLI. Each test checks
what the reader sees and what the database holds."""

from __future__ import annotations

import contextlib
import html
import json
import queue
import re
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import test_feedback
import test_feedback_faults
import test_slack
import test_slack_faults
import test_web
from helpers import digestbot, write_feed
from test_feedback import ratings
from test_likes import API, sources, sub
from test_relevance_faults import fake_arxiv
from test_slack import IMITATION, REASONING, email_sub, setup, slack_sub
from test_slack_faults import button, buttons_of

from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback
slack = test_slack.slack  # the fixture: a Slack Web API stand-in
site, start_site = test_web.site, test_web.start_site  # the fixtures: the web pages, signed links


# --- rating a digest that is no longer sent, or paused ------------------------------------------


def more_link(text: str) -> tuple[str, str]:
    """The first "More like this" link of a text part, and its token."""
    link = re.search(r"More like this: (\S+)", text).group(1)
    return link, parse_qs(urlsplit(link).query)["t"][0]


def test_a_rating_link_of_a_digest_removed_from_the_yaml_says_so_and_records_nothing(
    workdir, smtp_server, start_web
):
    web, text, _ = test_feedback.send_email_digest(workdir, smtp_server, start_web)
    link, token = more_link(text)
    setup(workdir, [IMITATION, REASONING], email_sub("bob", "reasoning"))  # alice removed
    assert "1 deactivated" in digestbot(workdir, "sync").output

    page = requests.get(link, timeout=10)  # a mail scanner, or alice
    assert page.status_code == 200 and "no longer sent" in page.text, page.text
    assert 'method="post"' not in page.text  # no button that would promise a next digest
    done = requests.post(f"{web.url}/feedback", data={"t": token, "vote": "up"}, timeout=10)
    assert done.status_code == 200 and "no longer sent" in done.text and "nothing was recorded" in done.text
    assert "your next digest" not in done.text
    assert ratings(workdir.db) == {"alice": {}, "bob": {}}


def test_a_rating_link_of_a_paused_digest_is_recorded_and_says_it_counts_once_on_again(
    workdir, smtp_server, start_web
):
    web, text, _ = test_feedback.send_email_digest(workdir, smtp_server, start_web)
    _, token = more_link(text)
    unsubscribe = re.search(r"(http://\S+/unsubscribe\?t=\S+)", text).group(1)
    assert requests.post(unsubscribe, timeout=10).status_code == 200  # alice unsubscribes

    done = requests.post(f"{web.url}/feedback", data={"t": token, "vote": "up"}, timeout=10)
    assert done.status_code == 200 and "off now" in done.text and "your next digest" not in done.text
    assert ratings(workdir.db)["alice"] == {f"arxiv:{IMITATION.aid}": 1}
    # `digestbot feedback` says the same (it said only "rated down")
    said = digestbot(workdir, "feedback", "alice", IMITATION.aid, "down").output
    assert "rated down" in said and "off now" in said, said


def test_a_rating_link_of_a_web_digest_its_reader_unsubscribed_is_kept_for_when_they_come_back(workdir, site):
    reader = site.browser()
    test_web.confirmed(site, reader, "lee@uni.example", "narwhal")
    digestbot(workdir, "send", "--force")
    digest = site.smtp.to("lee@uni.example")[-1]
    _, token = more_link(digest.message.get_body(("plain",)).get_content())
    assert "Unsubscribed" in reader.post("/manage/unsubscribe", {}, form_page="/manage").text

    done = requests.post(f"{site.url}/feedback", data={"t": token, "vote": "up"}, timeout=10)

    assert done.status_code == 200 and "off now" in done.text and "removed" not in done.text, done.text
    sid = test_web.web_subscriber(site.db, "lee@uni.example").id
    assert ratings(site.db)[sid] == {f"arxiv:{test_web.NARWHAL.aid}": 1}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> str:
    """A self-signed certificate (and its key, in one file) for 127.0.0.1."""
    pem = tmp_path_factory.mktemp("tls") / "both.pem"
    tls = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2"]
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            *tls,
            "-keyout",
            str(pem),
            "-out",
            str(pem),
        ],
        check=True,
        capture_output=True,
    )
    return str(pem)


@contextlib.contextmanager
def response_url(certificate: str, monkeypatch) -> Iterator[tuple[str, queue.Queue]]:
    """An HTTPS stand-in for a click's response_url (the client trusts its certificate through
    SSL_CERT_FILE); yields its URL and the queue of the JSON bodies posted to it."""
    posted: queue.Queue = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("SSL_CERT_FILE", certificate)
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/actions/T1/1", posted
    finally:
        server.shutdown()
        server.server_close()


def clicked(web, payload: dict, url: str, posted: queue.Queue) -> str:
    """What Slack shows the clicker: the ephemeral text posted to the click's response_url."""
    assert test_feedback.interactive(web, {**payload, "response_url": url}).status_code == 200
    return posted.get(timeout=15)["text"]


def test_a_slack_button_of_a_digest_removed_from_the_yaml_says_so_and_records_nothing(
    workdir, slack, start_web, certificate
):
    web = test_slack_faults.send_with_buttons(
        workdir, slack, start_web, slack_sub("ml", "C0MLCHAN1"), slack_sub("llm", "C0LLMCHAN", "reasoning")
    )
    [value] = buttons_of(next(p for p in slack.posts if p.body["channel"] == "C0MLCHAN1")).values()
    setup(workdir, [IMITATION, REASONING], slack_sub("llm", "C0LLMCHAN", "reasoning"))  # ml removed
    assert "1 deactivated" in digestbot(workdir, "sync").output

    with response_url(certificate, workdir.monkeypatch) as (url, posted):
        said = clicked(web, button(value, "U0MEMBER1", "C0MLCHAN1", "ml-papers"), url, posted)
        assert "no longer sent" in said and "Noted" not in said
        assert ratings(workdir.db) == {"ml": {}, "llm": {}}

        digestbot(workdir, "sync")  # the same click on a paused digest counts, and says when
        with Store(workdir.db) as store:
            store.set_paused("llm", True)
        [llm] = buttons_of(next(p for p in slack.posts if p.body["channel"] == "C0LLMCHAN")).values()
        said = clicked(web, button(llm, "U0MEMBER1", "C0LLMCHAN", "llm-papers"), url, posted)
        assert said.startswith("Noted") and "off now" in said
    assert ratings(workdir.db)["llm"] == {f"arxiv:{REASONING.aid}": 1}


# --- check: liked ids arXiv said it does not know ------------------------------------------------


@responses.activate
def test_check_does_not_call_a_liked_id_arxiv_does_not_know_one_still_to_be_fetched(workdir):
    responses.add_callback(responses.GET, API, callback=fake_arxiv({"2501.00001"}))
    workdir.write_config(sources(workdir), sub("carol", like=["2501.00001", "2501.99998"]))
    digestbot(workdir, "fetch")
    workdir.write_config(sources(workdir), sub("carol", like=["2501.00001", "2501.99998", "2501.00002"]))

    out = digestbot(workdir, "check").output

    assert "liked papers: not on arXiv: 2501.99998" in out, out
    [pending] = [line for line in out.splitlines() if "not in the database yet" in line]
    assert pending.startswith("warning: 1 liked paper(s)") and pending.endswith(": 2501.00002"), out


# --- invisible characters copied along with an id -----------------------------------------------


def test_an_id_with_invisible_characters_copied_along_is_still_that_paper(workdir):
    # A zero-width space (web pages), a soft hyphen (PDF text), a byte order mark in the middle
    # of a text library made of two exports joined with `cat`, a word joiner in a .bib's eprint.
    (workdir.path / "papers.txt").write_text("2403.10715\n\ufeff2403.10886\n", encoding="utf-8")
    (workdir.path / "more.bib").write_text(
        "@misc{a, title = {T}, eprint = {\u20602403.10954}, archivePrefix = {arXiv}}\n", encoding="utf-8"
    )
    workdir.write_config(
        sources(workdir),
        sub(
            "carol",
            like=["\u200b2403.10804", "https://arxiv.org/abs/2403.\u00ad10698v2"],
            library="papers.txt",
        )
        + sub("dave", library="more.bib"),
    )
    assert "OK" in digestbot(workdir, "check").output
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        likes = {s.subscriber.id: s.subscriber.profile.likes for s in store.subscribers()}
    assert likes == {
        "carol": ("2403.10804", "2403.10698", "2403.10715", "2403.10886"),
        "dave": ("2403.10954",),
    }
    refused = digestbot(workdir, "feedback", "carol", "\u200b2403.10804", "up", expect=2).output
    assert "no paper 'arxiv:2403.10804' in the database" in refused  # read as the id, not as none


def test_a_click_sent_before_a_hand_over_answers_for_the_digest_that_took_over_not_off(
    workdir, slack, start_web, certificate
):
    user = "U0ADA0003"
    web, _, _, buttons = test_feedback_faults.slack_digest_handed_over(workdir, slack, start_web, user)
    test_feedback_faults.hand_over_to_yaml(workdir, user)  # the Slack digest is inactive now
    aid, value = next(iter(buttons.items()))

    with response_url(certificate, workdir.monkeypatch) as (url, posted):
        said = clicked(web, button(value, user, "D0ADA0003", "directmessage"), url, posted)

    assert said == "Noted: more papers like this one.", said
    assert ratings(workdir.db)["ada"] == {f"arxiv:{aid}": 1}


def test_a_rating_of_a_digest_turned_trending_says_it_counts_once_trending_is_off(
    workdir, smtp_server, slack, start_web, certificate
):
    # Links and buttons sent before the digest became a trending one (which no rating moves).
    test_slack.hf_file(workdir, {IMITATION: 5, REASONING: 9})
    write_feed(workdir.path / "feed.xml", [IMITATION, REASONING])
    workdir.write_config(test_slack.HF_SOURCES, email_sub("alice"))
    web = test_slack.serve_signed_links(workdir, smtp_server, start_web)
    user = "U0TREND01"
    web.command("subscribe imitation learning", user=user)
    digestbot(workdir, "send")
    [mail] = smtp_server.to("alice@example.org")
    _, token = more_link(mail.message.get_body(("plain",)).get_content())
    [value] = buttons_of(slack.posts[0]).values()
    alice = email_sub("alice").replace("  keywords: [imitation learning]\n", "  trending: 3\n")
    workdir.write_config(test_slack.HF_SOURCES, alice)
    digestbot(workdir, "sync")
    assert "Trending" in web.command("trending 3", user=user)

    done = requests.post(f"{web.url}/feedback", data={"t": token, "vote": "up"}, timeout=10)
    assert done.status_code == 200 and "upvoted" in done.text and "your next digest" not in done.text
    with response_url(certificate, workdir.monkeypatch) as (url, posted):
        said = clicked(web, button(value, user, "D0TREND01", "directmessage"), url, posted)
    assert said.startswith("Noted") and "trending is off" in said, said
    key = f"arxiv:{IMITATION.aid}"
    assert ratings(workdir.db) == {"alice": {key: 1}, f"slack:{user}": {key: 1}}


# --- a library: that names no file ----------------------------------------------------------------


@pytest.mark.parametrize("written", ['""', '"  "', "", "~"])
def test_a_library_key_left_empty_says_it_names_no_file_not_none_holds_no_papers(workdir, written):
    workdir.write_config(sources(workdir), f"- id: carol\n  email: carol@example.org\n  library: {written}\n")

    out = digestbot(workdir, "check", expect=2).output

    assert "subscribers[0].library: names no file: give the path of a .bib or .txt file" in out, out
    assert "None" not in out and "library:  holds" not in out


# --- a library saved as UTF-16 -------------------------------------------------------------------


def test_a_library_saved_as_utf16_with_its_byte_order_mark_is_read(workdir):
    # Windows PowerShell's `>` and Notepad's "Unicode" save UTF-16 little-endian with a BOM.
    (workdir.path / "ids.txt").write_bytes("\ufeff# my list\r\n2403.10715\r\n".encode("utf-16-le"))
    bib = '\ufeff@misc{a, title = {Schr{\\"o}dinger}, eprint = {2403.10886}, archivePrefix = {arXiv}}\n'
    (workdir.path / "lib.bib").write_bytes(bib.encode("utf-16-be"))
    workdir.write_config(sources(workdir), sub("carol", library="ids.txt") + sub("dave", library="lib.bib"))

    assert "OK" in digestbot(workdir, "check").output
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        likes = {s.subscriber.id: s.subscriber.profile.likes for s in store.subscribers()}
    assert likes == {"carol": ("2403.10715",), "dave": ("2403.10886",)}


def test_an_old_jabref_library_is_read_in_the_encoding_its_header_names(workdir):
    bib = (
        "% This file was created with JabRef 2.10.\n% Encoding: ISO8859_1\n\n"
        "@Article{a,\n  Title = {Étude de la mémoire},\n  Year = {2009}\n}\n"
        "@Article{b,\n  Title = {X},\n  Eprint = {hep-th/9901001},\n  ArchivePrefix = {arXiv}\n}\n"
    )
    (workdir.path / "old.bib").write_bytes(bib.encode("latin-1"))
    workdir.write_config(sources(workdir), sub("carol", library="old.bib"))

    assert "OK" in digestbot(workdir, "check").output
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        [carol] = store.subscribers()
    assert carol.subscriber.profile.likes == ("hep-th/9901001",)
    assert carol.subscriber.profile.seed_texts == ("Étude de la mémoire.",)
    (workdir.path / "old.bib").write_bytes(bib.encode("utf-8"))  # converted since, header kept
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        [carol] = store.subscribers()
    assert carol.subscriber.profile.seed_texts == ("Étude de la mémoire.",)


def test_a_text_library_written_as_a_markdown_list_of_ids_is_read(workdir):
    # Reading notes: the links of a list were read, its bare ids were "not an arXiv id or URL".
    (workdir.path / "reading.md").write_text(
        "# to read\n- 2403.10715\n* [Motion tracks](https://arxiv.org/abs/2403.10886)\n"
        "1. arXiv:2403.10954v2  # the follow-up\n2) hep-th/9901001\n• 2403.10804\n",
        encoding="utf-8",
    )
    workdir.write_config(sources(workdir), sub("carol", library="reading.md"))

    assert "OK" in digestbot(workdir, "check").output
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        [carol] = store.subscribers()
    assert carol.subscriber.profile.likes == (
        "2403.10715",
        "2403.10886",
        "2403.10954",
        "hep-th/9901001",
        "2403.10804",
    )


# --- a web reader's liked id arXiv does not know ------------------------------------------------


def test_the_manage_page_says_which_liked_ids_arxiv_does_not_know(workdir, site):
    # Slack's /digest likes and the operator's check and status said so; the web reader never heard.
    reader = site.browser()
    form = {"email": "kim@uni.example", "keywords": "narwhal", "likes": "2403.20002, 2501.99998"}
    assert reader.post("/subscribe", {**form, **test_web.FORM_FIELDS}).status_code == 200
    page = reader.get(test_web.link_in(site.mails("kim@uni.example", 1)[-1], "/confirm"))
    token = re.search(r'name="t" value="([^"]+)"', page.text).group(1)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    reader.post("/confirm", {"t": html.unescape(token)}, csrf=csrf)
    with responses.RequestsMock() as arxiv:
        arxiv.add_callback(responses.GET, API, callback=fake_arxiv(set()))
        assert "not on arXiv: 2501.99998" in digestbot(workdir, "fetch").output

    manage = reader.get("/manage")

    assert "arXiv does not know 2501.99998" in manage.text, manage.text
    assert "2403.20002" not in manage.text.split("arXiv does not know", 1)[1].split("</p>")[0]


@pytest.mark.parametrize(
    "url",
    ["https://api.zotero.org/users/12345/collections/ABCD/items?format=bibtex", "http://x.example/lib.bib"],
)
def test_a_library_given_as_a_url_says_it_is_not_fetched_not_file_not_found(workdir, url):
    workdir.write_config(sources(workdir), sub("carol", library=url))

    out = digestbot(workdir, "check", expect=2).output

    assert "subscribers[0].library: a URL: digestbot reads a library from a file" in out, out
    assert "file not found" not in out and "relative path" not in out


def test_a_library_or_templates_path_with_an_environment_variable_says_it_is_not_expanded(workdir):
    workdir.monkeypatch.setenv("ZOTERO_DIR", str(workdir.path))
    (workdir.path / "lib.bib").write_text("@misc{a, title = {T}, eprint = {2403.10715}}\n", encoding="utf-8")
    workdir.write_config(
        sources(workdir), sub("carol", library="${ZOTERO_DIR}/lib.bib"), extra_yaml="templates: $HOME/tpl\n"
    )

    out = digestbot(workdir, "check", expect=2).output

    assert out.count("environment variables such as $HOME are not expanded here") == 2, out
    assert "relative path is read from" not in out


# --- a list pasted into /digest like, an invisible character in the web form ----------------------


def test_digest_like_of_a_list_pasted_from_notes_likes_each_paper(workdir, start_web):
    setup(workdir, [IMITATION, REASONING], email_sub("alice"))
    digestbot(workdir, "fetch")
    web = start_web()

    said = web.command(
        f"like - {IMITATION.aid}\n- https://arxiv.org/abs/{REASONING.aid}v2\n1. hep-th/9901001"
    )

    assert f"`{IMITATION.aid}`" in said and "is not an arXiv id" not in said, said
    with Store(workdir.db) as store:
        [mine] = [s for s in store.subscribers() if s.subscriber.origin == "slack"]
    assert mine.subscriber.profile.likes == (IMITATION.aid, REASONING.aid, "hep-th/9901001")


def test_the_web_forms_liked_paper_with_an_invisible_character_copied_along_is_that_paper(workdir, site):
    reader = site.browser()
    form = {"email": "kim@uni.example", "keywords": "narwhal", "likes": "\u200b2403.20002, 2403.\u00ad10715"}

    page = reader.post("/subscribe", {**form, **test_web.FORM_FIELDS})

    assert page.status_code == 200 and "Check your inbox" in page.text, page.text
    # what is no id still has its direction override named, not shown back turned around
    junk = reader.post("/subscribe", {**form, "likes": "see\u202eabove", **test_web.FORM_FIELDS})
    assert junk.status_code == 400 and "invisible formatting character (U+202E)" in junk.text, junk.text
