"""Slack end to end, and one-click unsubscribe.

1. Digests: the real CLI (`send`, `run --once`) on a local arXiv-style feed, posting to a local
   stand-in for the Slack Web API (`slack_api` in conftest.py). Tests check the JSON that arrived
   there and what the ledger says.
2. `/digest`: the real WSGI app (digestbot.web.WebApp) served by waitress on loopback, sent
   signed form posts with requests; tests check the replies and the database afterwards.
3. Unsubscribe links: links.py, the web app's /unsubscribe, and an email digest's link end to end.

The contract is DESIGN.md: "Delivery rules", "Slack command (/digest)".
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import html
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
import waitress
from browser import browser  # noqa: F401  (a fixture)
from helpers import SOURCES, FeedPaper, db_dump, digestbot, ledger, not_due_soon, write_feed
from helpers import subscriber as email_subscriber
from slack_sdk.models.blocks import Block
from waitress import wasyncore

from digestbot.config import Env, load_config
from digestbot.delivery.slack import SlackTransport
from digestbot.links import make_token, read_token, unsubscribe_url
from digestbot.store import Store, SubscriberState
from digestbot.web import WebApp

TOKEN = "xoxb-test"
SIGNING_SECRET = "test-secret"
UNSUB_SECRET = "unsub-secret"
KEYWORD = "imitation learning"
FORM = "application/x-www-form-urlencoded"

# Slack's own limits (Block Kit reference), written out here rather than read from digestbot.
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_TEXT_CHARS = 4000  # `text` must stay under this
MAX_CONTEXT_ELEMENTS = 10
# All the text of one message: past about 11,000-13,000 characters Slack answers
# msg_blocks_too_long, a limit it does not document (slackapi/bolt-js#2509, #2867).
MAX_MESSAGE_TEXT_CHARS = 11_000

# --- the feed ---------------------------------------------------------------------------------


LONG_TAIL = "TAILMARKER"
IMITATION = FeedPaper(
    "2501.10001",
    "Imitation Learning for Dexterous Robots",
    "We train manipulators from a few demonstrations with imitation learning and a learned reward. "
    + "The policy is evaluated on many household tasks with varied objects and lighting. " * 8
    + LONG_TAIL,
)
IMITATION_2 = FeedPaper(
    "2501.10002",
    "Offline Imitation Learning from Suboptimal Demonstrations",
    "Demonstrations of mixed quality are weighted by a learned discriminator.",
)
REASONING = FeedPaper(
    "2501.10003",
    "Teaching Language Models to Plan",
    "We improve multi-step reasoning of language models with search over partial plans.",
)
REASONING_2 = FeedPaper(
    "2501.10005",
    "Verifying Reasoning Traces with Small Critics",
    "A small critic model checks each step of a long reasoning derivation.",
)
NOBODY = FeedPaper(
    "2501.10004",
    "Sparse Attention Kernels for Long Sequences",
    "We speed up attention on long inputs with block-sparse kernels on commodity GPUs.",
)
HOSTILE_TEXT = "<!channel> <!here> <@U999> <!subteam^S123> <#C999> <https://evil.example|log in> & <script>alert(1)</script>"
HOSTILE = FeedPaper(
    "2501.10666",
    f"Imitation learning {HOSTILE_TEXT}",
    f"Imitation learning for everyone {HOSTILE_TEXT} the end.",
    authors="Eve <@U999>, Mallory & Sons",
)


def many(n: int) -> list[FeedPaper]:
    """`n` matching papers; every third has the keyword in its title too, so it ranks higher."""
    return [
        FeedPaper(
            f"2502.{i:05d}",
            f"Imitation Learning Study {i}" if i % 3 == 0 else f"Policy Study {i}",
            f"Study {i} applies imitation learning to task {i}.",
        )
        for i in range(1, n + 1)
    ]


def strong(items: list[FeedPaper]) -> set[str]:
    return {i.aid for i in items if "Imitation" in i.title}


def slack_sub(sid: str, target: str, *keywords: str, max_papers: int | None = None) -> str:
    return (
        f"- id: {sid}\n"
        f'  slack: "{target}"\n'
        f"  keywords: [{', '.join(keywords or (KEYWORD,))}]\n"
        f"  schedule: {not_due_soon()}\n" + (f"  max_papers: {max_papers}\n" if max_papers else "")
    )


def email_sub(sid: str, *keywords: str) -> str:
    return email_subscriber(sid, *(keywords or (KEYWORD,)))


def setup(workdir, items: list[FeedPaper], *subscribers: str, **config) -> None:
    write_feed(workdir.path / "feed.xml", items)
    workdir.write_config(SOURCES, "".join(subscribers), **config)


# --- the CLI and the database -------------------------------------------------------------------


def ranked_ids(db: Path, digest_id: int) -> list[str]:
    """The papers of a recorded digest, in the rank order the ledger holds."""
    with Store(db) as store:
        return [item.paper.arxiv_id for item in store.digest_items(digest_id)]


def subscriber(db: Path, sid: str) -> SubscriberState | None:
    with Store(db) as store:
        return store.subscriber(sid)


# --- what a Slack message holds -----------------------------------------------------------------


def strings(value) -> Iterator[str]:
    """Every string value in a JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def sections(message: dict) -> list[str]:
    return [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]


@dataclass(frozen=True)
class RichPaper:
    """One paper of a Slack digest as the reader sees it: its rich_text block read back (literal
    text), and the mrkdwn line under it."""

    url: str
    title: str
    authors: str
    abstract: str
    bold: tuple[str, ...]
    meta: str


def rich_papers(message: dict) -> list[RichPaper]:
    blocks = message["blocks"]
    out = []
    for block in blocks:
        if block["type"] != "rich_text":
            continue
        section, meta_section = block["elements"]
        title, *rest = section["elements"]
        lines = "".join(e["text"] for e in rest).split("\n")
        authors = next((e["text"] for e in rest if e.get("style", {}).get("italic")), "")
        meta = "".join(
            f"*{e['text']}*" if e.get("style", {}).get("bold") else e["text"]
            for e in meta_section["elements"]
        )
        out.append(
            RichPaper(
                url=title.get("url", ""),
                title=title["text"],
                authors=authors,
                abstract=lines[-1],
                bold=tuple(e["text"] for e in rest if e.get("style", {}).get("bold")),
                meta=meta,
            )
        )
    return out


def paper_ids(message: dict) -> list[str]:
    """The papers a message links to, in order."""
    return [
        aid for p in rich_papers(message) for aid in re.findall(r"^https://arxiv\.org/abs/([\d.]+)$", p.url)
    ]


def assert_within_slack_limits(message: dict) -> None:
    """Slack's published limits, and slack_sdk's Block Kit models (which know them too)."""
    assert isinstance(message["text"], str) and 0 < len(message["text"]) < MAX_TEXT_CHARS
    blocks = message["blocks"]
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None and parsed.type == block["type"], block
        parsed.validate_json()  # raises SlackObjectFormationError past a limit
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= MAX_HEADER_CHARS
        elif block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn"
            assert 0 < len(block["text"]["text"]) <= MAX_SECTION_CHARS
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= MAX_CONTEXT_ELEMENTS
        for text in strings(block):
            assert len(text) <= MAX_SECTION_CHARS
    assert sum(map(len, texts(blocks))) <= MAX_MESSAGE_TEXT_CHARS


def texts(value) -> Iterator[str]:
    """Every `text` string in a JSON document, however deep."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)


def mrkdwn_texts(message: dict) -> Iterator[str]:
    """Every text Slack reads as mrkdwn (or as the notification): not the literal rich_text."""
    yield message["text"]
    for block in message["blocks"]:
        if block["type"] != "rich_text":
            yield from strings(block)


def assert_nothing_pings(message: dict) -> None:
    """No mention, no raw markup and no link but digestbot's own anywhere: every `<` in mrkdwn
    opens a link to a paper's arXiv page or PDF, every `&` starts an escape; rich_text holds only
    literal text and links (no user, channel or broadcast elements), and no `<!`, `<@`, `<#`."""
    for block in message["blocks"]:
        if block["type"] == "rich_text":
            for section in block["elements"]:
                assert section["type"] == "rich_text_section"
                for e in section["elements"]:
                    assert e["type"] in ("text", "link"), e
                    assert e.get("url", "https://").startswith("https://"), e
                    assert not re.search(r"<[!@#]", e["text"]), e
    for text in mrkdwn_texts(message):
        for markup in re.findall(r"<[^>]*>?", text):
            assert re.fullmatch(r"<https://arxiv\.org/(abs|pdf)/[\d.]+\|[^<>]*>", markup), (
                f"{markup!r} in {text!r}"
            )
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), f"unescaped & in {text!r}"


# --- the Slack stand-in wired in --------------------------------------------------------------


@pytest.fixture
def slack(workdir, slack_api, monkeypatch):
    """SLACK_BOT_TOKEN and DIGESTBOT_SLACK_API_URL pointing at the stand-in.

    The transport's one-second spacing between posts to one channel is turned down to zero so
    that multi-part digests stay fast; it is tested on its own with a fake clock.
    """
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)
    monkeypatch.setattr("digestbot.digest.SlackTransport", functools.partial(SlackTransport, interval=0.0))
    return slack_api


# === 1. digests posted to Slack ===================================================================


def test_channel_digest_arrives_as_block_kit(workdir, slack):
    setup(workdir, [IMITATION, REASONING, IMITATION_2, NOBODY], slack_sub("ml", "#ml-papers"))

    digestbot(workdir, "run", "--once")

    [post] = slack.posts
    assert slack.calls_to("conversations.open") == []
    assert post.path == "/api/chat.postMessage"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    message = post.body
    assert message["channel"] == "#ml-papers"
    assert message["unfurl_links"] is False
    assert message.get("link_names", False) is False
    assert message["text"].startswith("2 new papers for you: ")
    assert_within_slack_limits(message)

    header = message["blocks"][0]
    assert header["type"] == "header" and "digest" in header["text"]["text"].lower()
    assert sorted(paper_ids(message)) == [IMITATION.aid, IMITATION_2.aid]
    first = next(p for p in rich_papers(message) if IMITATION.aid in p.url)
    assert (first.url, first.title) == (f"https://arxiv.org/abs/{IMITATION.aid}", IMITATION.title)
    assert first.authors == "Ada Lovelace, Alan Turing"
    assert "with imitation learning and a learned reward" in first.abstract
    assert "imitation learning" in first.bold  # matched words in bold
    assert "household tasks" in first.abstract and LONG_TAIL not in first.abstract  # a short abstract
    assert len(first.abstract) < 400
    assert first.meta.startswith("Matched: *imitation learning*")

    [record] = ledger(workdir.db)
    assert (record.status, record.channel, record.destination) == ("sent", "slack", "slack #ml-papers")


def test_user_digest_goes_to_a_dm_opened_with_conversations_open(workdir, slack):
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack.url.rstrip("/"))  # no trailing slash
    setup(workdir, [IMITATION, NOBODY], slack_sub("ada", "U0123ABCD"))
    digestbot(workdir, "fetch")

    digestbot(workdir, "send")

    opened, posted = slack.calls
    assert (opened.method, opened.path, opened.body) == (
        "conversations.open",
        "/api/conversations.open",
        {"users": "U0123ABCD"},
    )
    assert opened.headers["authorization"] == f"Bearer {TOKEN}"
    assert posted.method == "chat.postMessage"
    assert posted.body["channel"] == slack.DM_CHANNEL
    assert paper_ids(posted.body) == [IMITATION.aid]
    [record] = ledger(workdir.db)
    assert record.status == "sent"
    assert record.destination == f"slack U0123ABCD (DM {slack.DM_CHANNEL})"


def test_a_long_digest_is_split_within_slack_limits_in_rank_order(workdir, slack):
    items = many(120)
    setup(workdir, items, slack_sub("ml", "#ml-papers", max_papers=200))
    digestbot(workdir, "fetch")

    digestbot(workdir, "send")

    posts = [p.body for p in slack.posts]
    assert len(posts) >= 3  # 120 sections need at least three messages of 50 blocks
    for n, message in enumerate(posts, 1):
        assert_within_slack_limits(message)
        assert message["channel"] == "#ml-papers"
        assert message["text"].endswith(f"({n}/{len(posts)})")
        assert message["blocks"][0]["type"] == ("header" if n == 1 else "context")
    [record] = ledger(workdir.db)
    sent = [aid for message in posts for aid in paper_ids(message)]
    assert sent == ranked_ids(workdir.db, record.id)  # in rank order across messages
    assert sorted(sent) == sorted(i.aid for i in items)  # none missing, none twice
    assert set(sent[: len(strong(items))]) == strong(items)  # title hits rank first
    assert (record.status, record.n_papers, record.parts_sent) == ("sent", 120, len(posts))


def test_a_digest_of_long_papers_is_split_before_slack_refuses_a_message_as_too_long(workdir, slack):
    authors = ", ".join(f"Author{i} Surname{i}" for i in range(40))
    items = [
        FeedPaper(
            f"2502.{i:05d}", f"Imitation learning {i}: " + "a long title " * 22, "imitation " * 150, authors
        )
        for i in range(1, 41)
    ]
    setup(workdir, items, slack_sub("ml", "#ml-papers", max_papers=40))
    digestbot(workdir, "fetch")

    digestbot(workdir, "send")

    posts = [p.body for p in slack.posts]
    assert len(posts) > 1  # 40 papers of about 700 characters each: more than one message holds
    for message in posts:
        assert_within_slack_limits(message)
    [record] = ledger(workdir.db)
    sent = [aid for message in posts for aid in paper_ids(message)]
    assert sorted(sent) == sorted(i.aid for i in items)  # none missing, none twice
    assert (record.status, record.parts_sent) == ("sent", len(posts))


# A title at the length sources allow (1,000 characters) made of characters that mrkdwn escapes
# grows past a section's 3,000 characters.
OVERSIZED = FeedPaper(
    "2501.10999", ("Imitation learning " + "<&> " * 300)[:1000], "Imitation learning, at length."
)


def send_oversized(workdir, slack) -> dict:
    setup(workdir, [OVERSIZED, IMITATION], slack_sub("ml", "#ml-papers"))
    digestbot(workdir, "fetch")
    digestbot(workdir, "send")
    [post] = slack.posts
    return post.body


def test_an_oversized_entry_is_trimmed_within_limits(workdir, slack):
    message = send_oversized(workdir, slack)

    assert_within_slack_limits(message)
    assert_nothing_pings(message)  # also: no escape or link cut in half
    assert IMITATION.aid in paper_ids(message)


def test_an_oversized_entry_keeps_its_link(workdir, slack):
    message = send_oversized(workdir, slack)

    assert OVERSIZED.aid in paper_ids(message)


def test_feed_text_cannot_ping_anyone(workdir, slack):
    setup(workdir, [HOSTILE], slack_sub("ml", "#ml-papers"))
    digestbot(workdir, "fetch")
    with Store(workdir.db) as store:
        [paper] = list(store.papers_after(0))
    assert "<!channel>" in paper.title and "<!channel>" in paper.abstract  # it reached the store raw

    digestbot(workdir, "send")

    [post] = slack.posts
    message = post.body
    assert_nothing_pings(message)
    assert_within_slack_limits(message)
    [paper] = rich_papers(message)
    # Shown as written (literal rich_text; a word joiner after each `<` of a would-be mention)
    shown = paper.title.replace("\u2060", "")
    assert shown == HOSTILE.title and HOSTILE_TEXT in paper.abstract.replace("\u2060", "")
    assert paper.authors.replace("\u2060", "") == "Eve <@U999>, Mallory & Sons"
    assert "&lt;!channel&gt;" in message["text"]  # the notification text is mrkdwn: escaped
    assert "<!" not in post.raw.decode() and "<@" not in post.raw.decode()


def test_http_429_waits_for_retry_after_and_posts_once(workdir, slack):
    setup(workdir, [IMITATION], slack_sub("ml", "#ml-papers"))
    digestbot(workdir, "fetch")
    slack.rate_limit("chat.postMessage", retry_after=1)

    digestbot(workdir, "send")

    refused, accepted = slack.posts
    assert accepted.at - refused.at >= 1.0
    assert accepted.body == refused.body
    [record] = ledger(workdir.db)
    assert (record.status, record.attempts) == ("sent", 1)


def test_channel_not_found_keeps_the_digest_and_others_still_get_theirs(workdir, slack):
    setup(workdir, [IMITATION], slack_sub("gone", "#gone"), slack_sub("ml", "#ml-papers"))
    digestbot(workdir, "fetch")
    slack.fail("chat.postMessage", "channel_not_found", when={"channel": "#gone"})

    result = digestbot(workdir, "send", expect=1)

    assert "gone: FAILED (kept, will retry)" in result.output
    assert "channel_not_found" in result.output
    assert [p.body["channel"] for p in slack.posts] == ["#gone", "#ml-papers"]
    [pending] = ledger(workdir.db, status="pending")
    assert pending.subscriber_id == "gone" and "channel_not_found" in (pending.last_error or "")
    assert [d.subscriber_id for d in ledger(workdir.db, status="sent")] == ["ml"]
    status = digestbot(workdir, "status").output
    row = next(line for line in status.splitlines() if "channel_not_found" in line)
    assert "gone" in row and "pending" in row


def send_failing_after_part_1(workdir, slack, items: list[FeedPaper], max_papers: int):
    """Send `items` to #ml-papers as a digest of several messages whose second post fails:
    (the first message, the failed second, the digest's pending record)."""
    setup(workdir, items, slack_sub("ml", "#ml-papers", max_papers=max_papers))
    digestbot(workdir, "fetch")
    slack.answer("chat.postMessage")  # part 1 goes through
    slack.fail("chat.postMessage", "internal_error")  # part 2 fails, once
    digestbot(workdir, "send", expect=1)
    part_1, failed_2 = slack.posts
    [record] = ledger(workdir.db, status="pending")
    assert record.parts_sent == 1
    return part_1, failed_2, record


def test_after_a_failed_part_only_the_undelivered_parts_are_posted_again(workdir, slack):
    items = many(120)  # header, intro, 120 papers and a footer: three messages

    part_1, failed_2, record = send_failing_after_part_1(workdir, slack, items, max_papers=200)

    assert "internal_error" in (record.last_error or "")

    digestbot(workdir, "send", "--force")

    part_2, part_3 = slack.posts[2:]
    assert part_2.body == failed_2.body
    assert [p.body["text"][-5:] for p in (part_1, part_2, part_3)] == ["(1/3)", "(2/3)", "(3/3)"]
    delivered = [aid for p in (part_1, part_2, part_3) for aid in paper_ids(p.body)]
    assert delivered == ranked_ids(workdir.db, record.id)
    assert sorted(delivered) == sorted(i.aid for i in items)
    [record] = ledger(workdir.db)
    assert (record.status, record.parts_sent, record.attempts) == ("sent", 3, 2)


def test_without_a_bot_token_slack_digests_go_to_the_outbox(workdir, slack_api):
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)
    setup(workdir, [IMITATION, REASONING], slack_sub("ml", "#ml-papers"))

    digestbot(workdir, "run", "--once")

    assert slack_api.calls == []
    [path] = workdir.outbox.glob("*.slack.json")
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["channel"] == "#ml-papers"
    [message] = saved["messages"]
    assert_within_slack_limits(message)
    assert paper_ids(message) == [IMITATION.aid]
    [record] = ledger(workdir.db)
    assert (record.status, record.channel, record.destination) == ("sent", "outbox", str(path))


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_posts_to_one_channel_are_spaced_a_second_apart(slack_api):
    clock = FakeClock()
    transport = SlackTransport(TOKEN, slack_api.url, clock=clock.now, sleep=clock.sleep)
    messages = [{"text": f"part {n}", "blocks": []} for n in range(3)]

    transport.send("#a", messages)
    transport.send("#b", messages[:1])

    assert clock.slept == [1.0, 1.0]  # between the three posts to #a; none before #b
    assert [(p.body["channel"], p.body["text"]) for p in slack_api.posts] == [
        ("#a", "part 0"),
        ("#a", "part 1"),
        ("#a", "part 2"),
        ("#b", "part 0"),
    ]


# === 2. the web app ==============================================================================


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def command_form(text: str, user: str, channel: str, channel_name: str, response_url: str | None) -> dict:
    form = {
        "token": "deprecated",
        "team_id": "T1",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": "ada",
        "command": "/digest",
        "text": text,
        "api_app_id": "A1",
    }
    if response_url:
        form["response_url"] = response_url
    return form


USER = "U42"


@dataclass
class Web:
    """The running web app: its URL, database, and ways to talk to it like Slack does."""

    url: str
    db: Path
    app: WebApp

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(method, self.url + path, timeout=10, **kwargs)
        assert "Traceback" not in response.text and 'File "' not in response.text
        return response

    def signed(
        self,
        path: str,
        body: bytes,
        *,
        secret: str = SIGNING_SECRET,
        timestamp: str | None = None,
        signed_body: bytes | None = None,
        content_type: str = FORM,
    ) -> requests.Response:
        """POST `body` signed like Slack does (over `signed_body`, if given: a tampered request)."""
        timestamp = timestamp or str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(
                secret, timestamp, body if signed_body is None else signed_body
            ),
        }
        return self.request("POST", path, data=body, headers=headers)

    def command_body(
        self,
        text: str,
        user: str = USER,
        channel: str = "D0042",
        channel_name: str = "directmessage",
        response_url: str | None = None,
    ) -> bytes:
        form = command_form(text, user, channel, channel_name, response_url)
        return urlencode(form).encode()

    def command(self, text: str, **kwargs) -> str:
        """Run `/digest text`; returns the (ephemeral) reply text."""
        response = self.signed("/slack/commands", self.command_body(text, **kwargs))
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        reply = response.json()
        assert reply["response_type"] == "ephemeral"
        return reply["text"]


class _Late:
    """A WSGI app set after the server is created (the app's base URL needs the server's port)."""

    app: WebApp | None = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture
def start_web(workdir) -> Iterator[Callable[[], Web]]:
    """Starts the web app on loopback over the workdir's config (write it first) and database."""
    running: list[tuple] = []

    def start(signing_secret: str | None = SIGNING_SECRET) -> Web:
        late = _Late()
        server = waitress.create_server(late, host="127.0.0.1", port=0)
        url = f"http://127.0.0.1:{server.effective_port}"
        env = Env(
            outbox=workdir.outbox,
            slack_signing_secret=signing_secret,
            secret=UNSUB_SECRET,
            base_url=url,
        )
        late.app = WebApp(load_config(workdir.config), env, workdir.db)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread, late.app))
        return Web(url, workdir.db, late.app)

    yield start
    for server, thread, app in running:
        stop_server(server, thread)
        app.close()


def stop_server(server, thread: threading.Thread) -> None:
    """Stop a waitress server running `server.run()` in `thread`.

    Its worker threads go first (a worker finishing a request pulls the loop's trigger). Then the
    server is closed from inside its own loop, since closing sockets under a running select() is
    EBADF: server.close(), then any connection still open; with nothing left the loop returns.
    """

    def close() -> None:
        server.close()
        wasyncore.close_all(server._map, ignore_all=True)

    server.task_dispatcher.shutdown()
    with contextlib.suppress(OSError):  # EBADF: the loop woke on an earlier pull and closed already
        server.trigger.pull_trigger(close)
    thread.join(5)
    assert not thread.is_alive(), "the web server did not stop"


@pytest.fixture
def web(workdir, start_web) -> Web:
    """The web app over a config with one YAML (email) subscriber and the feed fetched."""
    setup(workdir, [IMITATION, REASONING, NOBODY], email_sub("alice"), email_sub("bob", "reasoning"))
    digestbot(workdir, "fetch")
    return start_web()


# --- signatures and HTTP hygiene --------------------------------------------------------------


def test_a_signed_command_gets_an_ephemeral_json_reply(web):
    response = web.signed("/slack/commands", web.command_body("help"))

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    assert "/digest subscribe" in reply["text"]


def _now(offset: int = 0) -> str:
    return str(int(time.time()) + offset)


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(lambda web: {"signed_body": web.command_body("help")}, id="tampered-body"),
        pytest.param(lambda web: {"secret": "wrong-secret"}, id="wrong-secret"),
        pytest.param(lambda web: {"timestamp": _now(-600)}, id="stale-timestamp"),
        pytest.param(lambda web: {"timestamp": _now(+600)}, id="future-timestamp"),
    ],
)
def test_badly_signed_commands_are_refused_and_change_nothing(web, how):
    before = db_dump(web.db)

    response = web.signed("/slack/commands", web.command_body("subscribe diffusion policy"), **how(web))

    assert response.status_code == 401
    assert db_dump(web.db) == before


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: {}, id="none"),
        pytest.param(lambda body: {"X-Slack-Request-Timestamp": _now()}, id="timestamp-only"),
        pytest.param(
            lambda body: {"X-Slack-Signature": slack_signature(SIGNING_SECRET, _now(), body)},
            id="signature-only",
        ),
    ],
)
def test_commands_without_signature_headers_are_refused(web, headers):
    body = web.command_body("subscribe diffusion policy")
    before = db_dump(web.db)

    response = web.request(
        "POST", "/slack/commands", data=body, headers={"Content-Type": FORM, **headers(body)}
    )

    assert response.status_code == 401
    assert db_dump(web.db) == before


@pytest.mark.parametrize(
    "body, timestamp, signature",
    [
        pytest.param(b"user_id=U42&text=help", "yesterday", None, id="non-numeric-timestamp"),
        pytest.param(b"user_id=U42&text=\xff\xfe", None, None, id="non-utf8-body"),
        pytest.param(b"user_id=U42&text=help", None, "v0=\xe9", id="non-ascii-signature"),
    ],
)
def test_malformed_signature_headers_get_401_not_500(web, body, timestamp, signature):
    # slack-sdk's verifier raises on these; they are simply not valid requests.
    timestamp = timestamp or _now()
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or slack_signature(SIGNING_SECRET, _now(), body),
    }

    response = web.request("POST", "/slack/commands", data=body, headers=headers)

    assert response.status_code == 401


def test_unsigned_ssl_check_gets_an_empty_200(web):
    before = db_dump(web.db)

    body = b"ssl_check=1&token=x&" + web.command_body("subscribe diffusion policy")
    response = web.request("POST", "/slack/commands", data=body, headers={"Content-Type": FORM})

    assert (response.status_code, response.content) == (200, b"")
    assert db_dump(web.db) == before


def test_an_oversized_body_gets_413(web):
    body = web.command_body("subscribe " + "x" * (70 * 1024))

    assert web.signed("/slack/commands", body).status_code == 413
    assert (
        web.request("POST", "/slack/commands", data=body, headers={"Content-Type": FORM}).status_code == 413
    )


def test_without_a_signing_secret_commands_are_refused(workdir, start_web):
    setup(workdir, [IMITATION], email_sub("alice"))
    web = start_web(signing_secret=None)
    before = db_dump(web.db)

    response = web.signed("/slack/commands", web.command_body("subscribe diffusion policy"))

    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET" in response.text
    assert db_dump(web.db) == before


def test_a_signed_request_that_is_not_a_command_gets_400(web):
    assert web.signed("/slack/commands", b"text=subscribe+x").status_code == 400
    assert subscriber(web.db, f"slack:{USER}") is None


def test_unknown_paths_and_methods(web):
    assert web.request("GET", "/nowhere").status_code == 404
    assert web.request("POST", "/slack/commandz", data=b"x").status_code == 404
    assert web.request("GET", "/slack/commands").status_code == 405
    assert web.request("PUT", "/unsubscribe").status_code == 405


def test_healthz(web):
    response = web.request("GET", "/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_events_url_verification_returns_the_challenge(web):
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"}).encode()

    response = web.signed("/slack/events", body, content_type="application/json")
    unsigned = web.request("POST", "/slack/events", data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}
    assert unsigned.status_code == 401
    assert web.signed("/slack/events", b"{not json", content_type="application/json").status_code == 400


# --- /digest commands -----------------------------------------------------------------------


def slack_state(web: Web, sid: str = f"slack:{USER}") -> SubscriberState:
    state = subscriber(web.db, sid)
    assert state is not None, f"no subscriber {sid}"
    return state


def test_subscribe_creates_a_slack_subscriber_and_adds_keywords_once(web):
    reply = web.command('subscribe diffusion policy, "robot*"')

    assert "Added `diffusion policy`, `robot*`" in reply
    state = slack_state(web)
    sub = state.subscriber
    assert (sub.origin, sub.slack, sub.email, sub.active, sub.paused) == ("slack", USER, None, True, False)
    assert sub.profile.keywords == ("diffusion policy", "robot*")
    with Store(web.db) as store:
        assert store.find_by_slack([USER]).subscriber.id == f"slack:{USER}"

    reply = web.command("subscribe Diffusion Policy, imitation learning, imitation learning")

    assert "Added `imitation learning`" in reply
    assert slack_state(web).subscriber.profile.keywords == (
        "diffusion policy",
        "robot*",
        "imitation learning",
    )
    assert "nothing new" in web.command("subscribe robot*")
    assert slack_state(web).subscriber.profile.keywords == (
        "diffusion policy",
        "robot*",
        "imitation learning",
    )


def test_unsubscribe_and_exclude(web):
    web.command("subscribe diffusion policy, robot*")

    assert "Removed `robot*`" in web.command("unsubscribe robot*")
    assert slack_state(web).subscriber.profile.keywords == ("diffusion policy",)
    before = db_dump(web.db)
    assert "You don't follow `quantum`" in web.command("unsubscribe quantum")
    assert db_dump(web.db) == before

    assert "will be left out" in web.command("exclude survey")
    assert "will be left out" in web.command("exclude Survey, benchmark")
    assert slack_state(web).subscriber.profile.exclude == ("survey", "benchmark")


def test_schedule_sets_spec_and_timezone_and_a_bad_spec_is_explained(web):
    web.command("subscribe diffusion policy")

    reply = web.command("schedule weekly mon 09:00 Europe/Berlin")

    assert "Schedule set to `weekly mon 09:00` (Europe/Berlin)" in reply
    sub = slack_state(web).subscriber
    assert (sub.schedule, sub.timezone) == ("weekly mon 09:00", "Europe/Berlin")

    before = db_dump(web.db)
    for bad in ("fortnightly at 8", "daily 25:00", "daily 08:00 Mars/Olympus_Mons"):
        reply = web.command(f"schedule {bad}")
        assert "Examples:" in reply and "`/digest schedule daily 08:00`" in reply, reply
    assert "For example" in web.command("schedule")
    assert db_dump(web.db) == before


@pytest.mark.parametrize(
    ("spec", "gap"), [("* * * * *", 1), ("*/30 * * * *", 30), ("0,45 8 * * *", 45), ("5,55 0,23 * * *", 10)]
)
def test_a_schedule_from_slack_comes_at_most_hourly(web, spec, gap):
    """A channel member's every-minute cron would post every minute (and empty a trending
    digest's pool in minutes); hourly and daily crons are fine."""
    web.command("subscribe diffusion policy")
    before = db_dump(web.db)

    reply = web.command(f"schedule {spec}")

    assert f"every {gap} minute(s): from Slack, at most one an hour" in reply, reply
    assert db_dump(web.db) == before
    assert "Schedule set to `0 * * * *`" in web.command("schedule 0 * * * *")
    assert "Schedule set to `30 7,8 * * 1-5`" in web.command("schedule 30 7,8 * * 1-5")


def test_pause_and_resume(web):
    web.command("subscribe diffusion policy")

    assert "Paused" in web.command("pause")
    assert slack_state(web).subscriber.paused is True
    assert "(paused)" in web.command("list")
    assert "Resumed" in web.command("resume")
    assert slack_state(web).subscriber.paused is False


def test_commands_before_subscribing_say_how_to_start(web):
    for verb in ("pause", "resume", "unsubscribe foo", "exclude foo", "schedule daily 08:00", "list"):
        assert "/digest subscribe" in web.command(verb), verb
    assert subscriber(web.db, f"slack:{USER}") is None


@pytest.mark.parametrize("text", ["help", "", "   ", "frobnicate now", "channel"])
def test_help_unknown_verbs_and_empty_text_show_the_help(web, text):
    reply = web.command(text)

    assert "/digest subscribe" in reply and "/digest schedule" in reply and "/digest pause" in reply
    if text.startswith("frobnicate"):
        assert "I don't know `frobnicate`" in reply
    assert subscriber(web.db, f"slack:{USER}") is None


def test_list_shows_keywords_schedule_next_and_last_digest(workdir, web, slack):
    web.command("subscribe imitation learning, robot*")
    web.command("schedule daily 07:30 Europe/Berlin")

    fresh = web.command("list")

    for expected in ("`imitation learning`", "`robot*`", "`daily 07:30`", "Europe/Berlin", "Next digest:"):
        assert expected in fresh
    assert "Last digest: none yet" in fresh

    digestbot(workdir, "send")  # the Slack subscriber's first digest, by DM

    assert slack.calls_to("conversations.open")[0].body == {"users": USER}
    [post] = slack.posts
    assert paper_ids(post.body) == [IMITATION.aid]
    after = web.command("list")
    next_line = next(line for line in after.splitlines() if line.startswith("Next digest:"))
    assert re.search(r"\w{3} \d{2} \w{3} 07:30$", next_line), next_line
    last_line = next(line for line in after.splitlines() if line.startswith("Last digest:"))
    assert re.search(r"^Last digest: \w{3} \d{2} \w{3} \d{2}:\d{2}, 1 papers?$", last_line), last_line


def test_channel_subscribe_in_a_channel_and_refused_in_a_dm(web):
    reply = web.command("channel subscribe robot*", channel="C777", channel_name="ml-papers")

    assert "Added `robot*`" in reply
    sub = slack_state(web, "slack:C777").subscriber
    assert (sub.slack, sub.origin, sub.profile.keywords) == ("C777", "slack", ("robot*",))
    assert subscriber(web.db, f"slack:{USER}") is None  # the user's own digest is another one
    assert "`robot*`" in web.command("channel list", channel="C777", channel_name="ml-papers")

    before = db_dump(web.db)
    reply = web.command("channel subscribe robot*", channel="D0042")
    assert "use it in that channel" in reply
    assert db_dump(web.db) == before


YAML_USER = "U4242424"  # the config accepts only full-length Slack ids


def test_a_yaml_subscriber_is_listed_but_not_editable_from_slack(workdir, start_web):
    setup(workdir, [IMITATION], slack_sub("ops", YAML_USER, "imitation learning", "robot*"))
    digestbot(workdir, "sync")
    web = start_web()

    listed = web.command("list", user=YAML_USER)

    assert "`ops`" in listed and "`imitation learning`" in listed and "`robot*`" in listed
    assert "subscriptions.yaml" in listed
    before = db_dump(web.db)
    for verb in (
        "subscribe diffusion",
        "unsubscribe robot*",
        "exclude survey",
        "schedule daily 09:00",
        "pause",
    ):
        reply = web.command(verb, user=YAML_USER)
        assert "subscriptions.yaml" in reply, (verb, reply)
    assert db_dump(web.db) == before
    assert subscriber(web.db, f"slack:{YAML_USER}") is None


def test_keyword_limits(web):
    web.command("subscribe " + ", ".join(f"topic{i}" for i in range(40)))
    before = db_dump(web.db)

    too_many = web.command("subscribe " + ", ".join(f"extra{i}" for i in range(11)))
    too_long = web.command("subscribe " + "a" * 101)
    too_long_command = web.command("subscribe " + ", ".join(["x" * 90] * 25))  # over 2,000 characters

    assert "at most 50 keywords" in too_many
    assert "at most 100 characters" in too_long
    assert "too long" in too_long_command
    assert db_dump(web.db) == before
    assert "Added" in web.command("subscribe " + ", ".join(f"extra{i}" for i in range(10)))
    assert len(slack_state(web).subscriber.profile.keywords) == 50


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\x07"])
def test_keywords_with_control_or_direction_characters_are_refused(web, char):
    """A right-to-left override in a keyword would turn the digest's footer around."""
    web.command("subscribe robots")
    before = db_dump(web.db)
    for command in ("subscribe", "exclude"):
        reply = web.command(f"{command} diff{char}usion")
        assert f"control or invisible formatting character (U+{ord(char):04X})" in reply
    assert db_dump(web.db) == before


def test_first_subscribe_over_the_keyword_limit_creates_nothing(web):
    reply = web.command("subscribe " + ", ".join(f"topic{i}" for i in range(51)))

    assert "at most 50 keywords" in reply
    assert subscriber(web.db, f"slack:{USER}") is None


def test_replies_escape_what_the_user_typed(web):
    reply = web.command("subscribe <!channel>, <@U999> & co")

    assert "&lt;!channel&gt;" in reply and "&lt;@U999&gt;" in reply and "&amp; co" in reply
    assert "<!" not in reply and "<@" not in reply
    assert "&lt;!channel&gt;" in web.command("list")


# --- preview through response_url ---------------------------------------------------------------


def wait_for(predicate: Callable[[], object], timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def test_preview_answers_at_once_and_posts_the_digest_to_response_url(web, slack_api):
    web.command("subscribe imitation learning")
    response_url = f"{slack_api.root}/commands/T1/preview-1"
    gate = slack_api.hold("preview-1")  # the follow-up post waits until released

    reply = web.command("preview", response_url=response_url)
    gate.release()

    assert reply == "Building your preview…"
    assert not gate.expired  # the reply did not wait for the follow-up to be delivered
    [follow_up] = wait_for(lambda: slack_api.calls_to("preview-1"))
    assert follow_up.path == "/commands/T1/preview-1"
    body = follow_up.body
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("Preview of your next digest")
    assert paper_ids(body) == [IMITATION.aid]
    assert_within_slack_limits(body)
    assert ledger(web.db) == []  # a preview records nothing
    assert slack_state(web).last_seq is None


def test_preview_with_nothing_to_send_says_so(web, slack_api):
    web.command("subscribe quantum chromodynamics")

    web.command("preview", response_url=f"{slack_api.root}/commands/T1/preview-2")

    [follow_up] = wait_for(lambda: slack_api.calls_to("preview-2"))
    assert follow_up.body["response_type"] == "ephemeral"
    assert "No new matching papers" in follow_up.body["text"]
    assert "blocks" not in follow_up.body


# === 3. unsubscribe links =======================================================================


def test_tokens_round_trip():
    for sid in ("alice", "slack:U42", "ünïcödé-id", "a.b_c-d"):
        token = make_token(sid, UNSUB_SECRET)
        assert read_token(token, UNSUB_SECRET) == sid
        assert read_token(token, "another-secret") is None
    assert make_token("alice", UNSUB_SECRET) != make_token("bob", UNSUB_SECRET)
    url = unsubscribe_url("https://digest.example.org/", "alice", UNSUB_SECRET)
    assert url.startswith("https://digest.example.org/unsubscribe?t=")
    assert read_token(parse_qs(urlsplit(url).query)["t"][0], UNSUB_SECRET) == "alice"


def _alterations(token: str) -> Iterator[str]:
    """Every token one character away from `token` (in the base64url alphabet), '.' kept."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i, c in enumerate(token):
        if c != ".":
            for r in alphabet:
                if r != c:
                    yield token[:i] + r + token[i + 1 :]


def test_no_altered_token_names_another_subscriber():
    for sid in ("alice", "bob", "slack:U42"):
        token = make_token(sid, UNSUB_SECRET)
        assert {read_token(t, UNSUB_SECRET) for t in _alterations(token)} <= {None, sid}
    alice, bob = make_token("alice", UNSUB_SECRET), make_token("bob", UNSUB_SECRET)
    assert read_token(bob.split(".")[0] + "." + alice.split(".")[1], UNSUB_SECRET) is None
    assert read_token(alice.split(".")[0] + "." + bob.split(".")[1], UNSUB_SECRET) is None
    for junk in ("", ".", "alice", "YWxpY2U", "YWxpY2U.", ".abc", "a.b.c", "!!!.???"):
        assert read_token(junk, UNSUB_SECRET) is None


def test_every_altered_token_is_refused():
    for sid in ("alice", "bob", "slack:U42"):
        token = make_token(sid, UNSUB_SECRET)
        accepted = [t for t in _alterations(token) if read_token(t, UNSUB_SECRET) is not None]
        assert accepted == [], f"{len(accepted)} altered tokens for {sid} accepted, e.g. {accepted[:2]}"
        swapped = token.replace("-", "+").replace("_", "/")
        assert swapped == token or read_token(swapped, UNSUB_SECRET) is None


def paused(db: Path) -> dict[str, bool]:
    with Store(db) as store:
        return {s.subscriber.id: s.subscriber.paused for s in store.subscribers(include_inactive=True)}


ONE_CLICK = {"data": "List-Unsubscribe=One-Click", "headers": {"Content-Type": FORM}}


def test_get_shows_a_confirmation_form_and_post_pauses_only_that_subscriber(web):
    token = make_token("alice", UNSUB_SECRET)
    before = db_dump(web.db)

    page = web.request("GET", f"/unsubscribe?t={token}")

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    form = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert form, page.text
    assert db_dump(web.db) == before  # a mail scanner following the link changes nothing

    action = urljoin(page.url, html.unescape(form.group(1)))
    assert requests.post(action, timeout=10).status_code == 200  # the button
    assert paused(web.db) == {"alice": True, "bob": False}


def test_one_click_post_pauses_only_that_subscriber(web):
    response = web.request("POST", f"/unsubscribe?t={make_token('bob', UNSUB_SECRET)}", **ONE_CLICK)

    assert response.status_code == 200
    assert paused(web.db) == {"alice": False, "bob": True}


def _forgeries() -> list:
    alice, bob = make_token("alice", UNSUB_SECRET), make_token("bob", UNSUB_SECRET)
    sid, mac = alice.split(".")
    assert sid == "YWxpY2U"
    return [
        pytest.param(make_token("alice", "another-secret"), id="other-secret"),
        pytest.param("Z" + sid[1:] + "." + mac, id="id-first-char"),
        pytest.param(sid + "." + ("B" if mac[0] != "B" else "C") + mac[1:], id="mac-first-char"),
        pytest.param(sid + "." + bob.split(".")[1], id="bob-mac-on-alice"),
        pytest.param("", id="empty"),
        pytest.param("garbage", id="junk"),
        pytest.param(
            "YWxpY2V." + mac,
            id="id-last-char",
        ),
    ]


@pytest.mark.parametrize("token", _forgeries())
def test_forged_tokens_get_400_and_change_nothing(web, token):
    before = db_dump(web.db)

    posted = web.request("POST", f"/unsubscribe?t={token}", **ONE_CLICK)
    shown = web.request("GET", f"/unsubscribe?t={token}")

    assert (posted.status_code, shown.status_code) == (400, 400)
    assert db_dump(web.db) == before


def test_a_link_the_mail_program_cut_opens_a_page_saying_what_to_do(web, browser):  # noqa: F811
    # A cut (or otherwise broken) unsubscribe or rating link answered one line of plain text,
    # which the browser showed bare: no page of the site, no word of what to do instead.
    from selenium.webdriver.common.by import By

    from digestbot.web import BAD_RATING_LINK, BAD_UNSUBSCRIBE_LINK

    driver = browser()
    token = make_token("alice", UNSUB_SECRET)
    for path, said in (
        (f"/unsubscribe?t={token[:-6]}", BAD_UNSUBSCRIBE_LINK),
        ("/feedback?t=abc", BAD_RATING_LINK),
    ):
        answer = web.request("GET", path)
        assert answer.status_code == 400 and answer.headers["Content-Type"].startswith("text/html")
        driver.get(web.url + path)
        assert driver.find_elements(By.CSS_SELECTOR, "link[rel=stylesheet]")  # the site's page
        assert said in driver.find_element(By.TAG_NAME, "main").text
        assert not driver.find_elements(By.TAG_NAME, "pre")  # Chromium's frame for plain text
        # No sign-up pages here (no `web:`): the frame's title links to no home page, a 404.
        assert driver.find_element(By.CSS_SELECTOR, "header .home").tag_name == "span"


def test_unknown_subscriber_gets_the_same_answer_as_a_known_one(web):
    def answers(sid: str) -> list[tuple[int, str]]:
        token = make_token(sid, UNSUB_SECRET)
        shown = web.request("GET", f"/unsubscribe?t={token}")
        posted = web.request("POST", f"/unsubscribe?t={token}", **ONE_CLICK)
        return [(r.status_code, r.text.replace(token, "TOKEN")) for r in (shown, posted)]

    assert answers("mallory") == answers("alice")
    assert answers("mallory")[1][0] == 200
    assert subscriber(web.db, "mallory") is None
    assert paused(web.db) == {"alice": True, "bob": False}


def serve_signed_links(workdir, smtp_server, start_web) -> Web:
    """Fetch, start the web app, and make digests carry signed links to it (sent over SMTP)."""
    digestbot(workdir, "fetch")
    web = start_web()
    workdir.use_smtp(smtp_server.url)
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", web.url)
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", UNSUB_SECRET)
    return web


def test_email_unsubscribe_link_end_to_end(workdir, smtp_server, start_web):
    setup(
        workdir,
        [IMITATION, REASONING],
        email_sub("alice"),
        email_sub("bob", "reasoning"),
        email_yaml="unsubscribe_mailto: unsubscribe@example.org",
    )
    web = serve_signed_links(workdir, smtp_server, start_web)

    digestbot(workdir, "send")

    [mail] = smtp_server.to("alice@example.org")
    msg = mail.message
    link, mailto = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
    assert link.startswith(f"{web.url}/unsubscribe?t=")
    assert read_token(parse_qs(urlsplit(link).query)["t"][0], UNSUB_SECRET) == "alice"
    assert mailto == "mailto:unsubscribe@example.org?subject=unsubscribe%20alice"
    # The stand-in serves plain http: RFC 8058 one-click is claimed only for https (test_mail_headers)
    assert msg["List-Unsubscribe-Post"] is None
    text, html_part = (part.get_content() for part in msg.iter_parts())
    assert link in text
    assert f'href="{html.escape(link)}"' in html_part

    response = requests.post(link, timeout=10, **ONE_CLICK)  # what a mail client does (RFC 8058)

    assert response.status_code == 200
    assert paused(workdir.db) == {"alice": True, "bob": False}
    digestbot(workdir, "sync")
    assert paused(workdir.db) == {"alice": True, "bob": False}

    write_feed(workdir.path / "feed.xml", [IMITATION, REASONING, IMITATION_2, REASONING_2])
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--force")
    assert len(smtp_server.to("alice@example.org")) == 1
    assert len(smtp_server.to("bob@example.org")) == 2
    assert paused(workdir.db) == {"alice": True, "bob": False}


def test_socket_mode_answers_slash_commands_on_the_socket(workdir):
    """Over Socket Mode the same service answers: the ack carries the ephemeral reply."""
    from slack_sdk.socket_mode.request import SocketModeRequest

    from digestbot.slack_app import SlackService, socket_mode_client

    write_feed(workdir.path / "feed.xml", [])
    workdir.write_config(SOURCES, "")
    config = load_config(workdir.config)
    env = Env(
        slack_bot_token="xoxb-test", slack_app_token="xapp-test", slack_api_url="http://127.0.0.1:9/api/"
    )
    service = SlackService(config, env, workdir.db)
    client = socket_mode_client(service, env)
    sent = []
    client.send_socket_mode_response = sent.append  # what would go back over the websocket
    request = SocketModeRequest(
        type="slash_commands",
        envelope_id="env-1",
        payload={
            "user_id": "U42",
            "channel_id": "D42",
            "text": "subscribe diffusion policy",
            "command": "/digest",
        },
    )
    try:
        for listener in client.socket_mode_request_listeners:
            listener(client, request)
    finally:
        service.close()
        client.close()
    [ack] = sent
    assert ack.envelope_id == "env-1"
    assert ack.payload["response_type"] == "ephemeral"
    assert "Added `diffusion policy`" in ack.payload["text"]
    assert subscriber(workdir.db, "slack:U42").subscriber.profile.keywords == ("diffusion policy",)


# --- /digest trending ---------------------------------------------------------------------------

HF_SOURCES = (
    SOURCES
    + """
- name: hf-daily
  type: hf_daily
  url: hf.json
"""
)


def hf_file(workdir, votes: dict[FeedPaper, int]) -> None:
    items = [
        {"paper": {"id": p.aid, "title": p.title, "summary": p.abstract, "upvotes": n, "authors": []}}
        for p, n in votes.items()
    ]
    (workdir.path / "hf.json").write_text(json.dumps(items), encoding="utf-8")


@pytest.fixture
def hf_web(workdir, start_web) -> Web:
    """The web app over a config with an arXiv listing and a Hugging Face list, both fetched."""
    write_feed(workdir.path / "feed.xml", [IMITATION, REASONING, NOBODY])
    hf_file(workdir, {IMITATION: 5, REASONING: 50, REASONING_2: 20})
    workdir.write_config(HF_SOURCES, email_sub("alice"))
    digestbot(workdir, "fetch")
    return start_web()


def test_trending_on_and_off(hf_web):
    reply = hf_web.command("trending 10")

    assert "the 10 most upvoted Hugging Face papers you have not had." in reply
    assert "Trending: the 10 most upvoted" in reply  # the digest's description
    assert slack_state(hf_web).subscriber.profile.trending == 10
    hf_web.command("subscribe reasoning")
    assert "among those matching your keywords" in hf_web.command("trending 3")
    assert slack_state(hf_web).subscriber.profile.trending == 3

    reply = hf_web.command("trending off")

    assert "Trending is off: your digests follow your keywords again." in reply
    profile = slack_state(hf_web).subscriber.profile
    assert (profile.trending, profile.keywords) == (None, ("reasoning",))
    assert "not a trending one" in hf_web.command("trending off")
    for odd in ("\u00b2", "\u2460", "-3"):  # digits to str.isdigit, not numbers to int()
        assert "How many?" in hf_web.command(f"trending {odd}")


def test_trending_refuses_what_it_cannot_do_and_changes_nothing(hf_web):
    hf_web.command("like 2303.04137")
    before = db_dump(hf_web.db)
    for text in ("trending", "trending lots", "trending 101", "trending -3", "trending 2.5"):
        assert "How many? For example: `/digest trending 10`" in hf_web.command(text), text
    assert "can't also follow liked papers" in hf_web.command("trending 10")
    assert db_dump(hf_web.db) == before
    hf_web.command("unlike 2303.04137")
    hf_web.command("trending 5")
    assert "`/digest trending off` first" in hf_web.command("like 2303.04137")
    assert slack_state(hf_web).subscriber.profile.likes == ()


def test_trending_without_a_hugging_face_source_is_explained(web):
    before = db_dump(web.db)
    assert "add an `hf_daily` source" in web.command("trending 10")
    assert db_dump(web.db) == before


def test_help_lists_trending(web):
    assert "`/digest trending 10`" in web.command("help")


def test_a_trending_slack_digest_arrives_most_upvoted_first(workdir, hf_web, slack):
    hf_web.command("trending 2")

    digestbot(workdir, "send")

    [post] = slack.posts  # into the DM conversations.open gave for the user
    assert [c.body["users"] for c in slack.calls_to("conversations.open")] == [USER]
    assert paper_ids(post.body) == [REASONING.aid, REASONING_2.aid]  # 50, then 20 upvotes
