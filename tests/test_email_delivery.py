"""Email delivery end to end: the real CLI, a local arXiv-style feed file, a real SMTP server.

Every test checks what arrived at the SMTP server (or in the outbox folder) and what the ledger
says, never which function was called. The contract is DESIGN.md, "Delivery rules".
"""

from __future__ import annotations

import email
import email.policy
import re
import shutil
from email.message import EmailMessage
from pathlib import Path

from helpers import SOURCES, FeedPaper, db_dump, digestbot, ledger, subscriber, write_feed

from digestbot.store import Store, SubscriberState

FIXTURES = Path(__file__).parent / "fixtures"
SENDER_ADDR = "digest@example.org"

# --- the feed -----------------------------------------------------------------------------


IMITATION = FeedPaper(
    "2501.10001",
    "Imitation Learning for Schrödinger Robots with Zoë",
    "We train manipulators from a few demonstrations with imitation learning and a learned reward.",
    authors='Lukas Schr\\"oder, Zoë Müller',
)
REASONING = FeedPaper(
    "2501.10002",
    "Teaching Language Models to Plan",
    "We improve multi-step reasoning of language models with search over partial plans.",
)
GRAPHS = FeedPaper(
    "2501.10003",
    "Message Passing on Molecular Graphs",
    "A graph neural network predicts molecular properties from atoms and bonds.",
)
NOBODY = FeedPaper(
    "2501.10004",
    "Sparse Attention Kernels for Long Sequences",
    "We speed up attention on long inputs with block-sparse kernels on commodity GPUs.",
)
IMITATION_2 = FeedPaper(
    "2501.20001",
    "Offline Imitation Learning from Suboptimal Demonstrations",
    "Demonstrations of mixed quality are weighted by a learned discriminator.",
)
REASONING_2 = FeedPaper(
    "2501.20002",
    "Verifying Reasoning Traces with Small Critics",
    "A small critic model checks each step of a long derivation.",
)
NOBODY_2 = FeedPaper(
    "2501.20003",
    "Compressing Checkpoints with Low-Rank Deltas",
    "Storing fine-tuned weights as low-rank differences saves disk space.",
)


ALICE = subscriber("alice", "imitation learning")
BOB = subscriber("bob", "reasoning")
CAROL = subscriber("carol", "quantum chromodynamics")  # matches nothing in any feed here
DAVE = subscriber("dave", "graph neural network")


def setup(workdir, papers: list[FeedPaper], *subscribers: str, **config) -> None:
    write_feed(workdir.path / "feed.xml", papers)
    workdir.write_config(SOURCES, "".join(subscribers), **config)


# --- running the CLI and reading results ----------------------------------------------------


def state(workdir, sid: str) -> SubscriberState:
    with Store(workdir.db) as store:
        found = store.subscriber(sid)
    assert found is not None
    return found


def body_parts(msg: EmailMessage) -> tuple[str, str]:
    """The text and HTML of a digest, checking it is multipart/alternative with UTF-8 parts."""
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    return parts[0].get_content(), parts[1].get_content()


def paper_ids(text: str) -> set[str]:
    return set(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", text))


def ids(*papers: FeedPaper) -> set[str]:
    return {p.aid for p in papers}


def papers_in(msg: EmailMessage) -> set[str]:
    """The papers a digest holds, read from both parts (which must agree)."""
    text, html = body_parts(msg)
    assert paper_ids(text) == paper_ids(html)
    return paper_ids(text)


# --- what a digest looks like when it arrives ---------------------------------------------


def test_digest_arrives_as_multipart_utf8_email(workdir, smtp_server):
    setup(workdir, [IMITATION, REASONING, GRAPHS, NOBODY], ALICE)
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    msg = mail.message
    assert mail.mail_from == SENDER_ADDR
    assert mail.rcpt_tos == ("alice@example.org",)
    assert msg["To"].addresses[0].addr_spec == "alice@example.org"
    assert msg["From"].addresses[0].addr_spec == SENDER_ADDR
    assert msg["From"].addresses[0].display_name == "Paper digest"
    assert msg["Subject"] == f"1 new paper for you: {IMITATION.title}"
    raw_subject = re.search(rb"^Subject:(.*(?:\r?\n[ \t].*)*)", mail.raw, re.MULTILINE | re.IGNORECASE)
    assert raw_subject and raw_subject.group(1).isascii() and b"=?utf-8?" in raw_subject.group(1).lower()
    [record] = ledger(workdir.db)
    assert msg["Message-ID"] == record.message_id
    assert record.status == "sent"

    text, html = body_parts(msg)
    assert papers_in(msg) == ids(IMITATION)
    assert IMITATION.title in text
    assert "Schröder" in text  # TeX accent in dc:creator decoded
    assert "Zoë" in html
    assert re.search(r'<span class="hl" style="[^"]+">Imitation Learning</span>', html)
    assert re.search(r'<span class="hl" style="[^"]+">imitation learning</span>', html)
    assert html.lower().count("<style") == 1 and "<style>@media (prefers-color-scheme: dark)" in html
    assert 'class="paper" style="' in html


ZOE_TITLE = "Imitation Learning from Zoë: Schrödinger Bridges über Müller Manifolds"
ZOE_SUBJECT = f"2 new papers for you: {ZOE_TITLE}"


def test_subject_keeps_the_spaces_between_non_ascii_words(workdir, smtp_server):
    top = FeedPaper("2501.10005", ZOE_TITLE, "Imitation learning on curved spaces.")
    second = FeedPaper("2501.10006", "Robot Demonstrations at Scale", "A dataset for imitation learning.")
    setup(workdir, [top, second], ALICE)
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    assert papers_in(mail.message) == ids(top, second)
    assert mail.message["Subject"] == ZOE_SUBJECT


def test_list_unsubscribe_header_when_a_mailto_is_configured(workdir, smtp_server):
    setup(workdir, [IMITATION], ALICE, email_yaml="unsubscribe_mailto: unsubscribe@example.org")
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    [mail] = smtp_server.messages
    assert mail.message["List-Unsubscribe"] == "<mailto:unsubscribe@example.org?subject=unsubscribe%20alice>"
    assert "List-Unsubscribe-Post" not in mail.message  # one-click needs DIGESTBOT_BASE_URL


def test_each_subscriber_gets_their_own_message_and_no_match_means_no_mail(workdir, smtp_server):
    setup(workdir, [IMITATION, REASONING, GRAPHS, NOBODY], ALICE, BOB, CAROL)
    workdir.use_smtp(smtp_server.url)

    result = digestbot(workdir, "run", "--once")

    assert "Digests: 2 sent, 0 failed, 1 subscriber(s) with nothing new." in result.output
    assert len(smtp_server.messages) == 2
    [to_alice] = smtp_server.to("alice@example.org")
    [to_bob] = smtp_server.to("bob@example.org")
    assert smtp_server.to("carol@example.org") == []
    assert to_alice.rcpt_tos == ("alice@example.org",)
    assert to_bob.rcpt_tos == ("bob@example.org",)
    assert papers_in(to_alice.message) == ids(IMITATION)
    assert papers_in(to_bob.message) == ids(REASONING)
    assert to_alice.message["Message-ID"] != to_bob.message["Message-ID"]
    assert sorted(d.subscriber_id for d in ledger(workdir.db)) == ["alice", "bob"]


def test_one_smtp_connection_per_batch(workdir, smtp_server):
    setup(workdir, [IMITATION, REASONING, GRAPHS], ALICE, BOB, DAVE)
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "run", "--once")

    assert len(smtp_server.messages) == 3
    assert smtp_server.connections == 1
    assert len({m.peer for m in smtp_server.messages}) == 1


# --- the ledger: nothing twice, nothing lost -------------------------------------------------


def test_second_send_sends_nothing_and_new_papers_go_out_once(workdir, smtp_server):
    feed = workdir.path / "feed.xml"
    setup(workdir, [IMITATION, REASONING, NOBODY], ALICE, BOB)
    workdir.use_smtp(smtp_server.url)

    digestbot(workdir, "fetch")
    digestbot(workdir, "send")
    assert len(smtp_server.messages) == 2

    digestbot(workdir, "send")  # nobody is due again yet
    digestbot(workdir, "send", "--force")  # due, but no new papers
    assert len(smtp_server.messages) == 2

    write_feed(feed, [IMITATION, REASONING, NOBODY, IMITATION_2, REASONING_2, NOBODY_2])
    result = digestbot(workdir, "run", "--once")
    assert "feed: 3 new, 3 already known" in result.output
    assert len(smtp_server.messages) == 2  # fetched, but the schedule has not come round

    digestbot(workdir, "send", "--force")
    new = smtp_server.messages[2:]
    assert sorted(m.rcpt_tos for m in new) == [("alice@example.org",), ("bob@example.org",)]
    [alice_2] = [m for m in new if m.rcpt_tos == ("alice@example.org",)]
    [bob_2] = [m for m in new if m.rcpt_tos == ("bob@example.org",)]
    assert papers_in(alice_2.message) == ids(IMITATION_2)
    assert papers_in(bob_2.message) == ids(REASONING_2)

    digestbot(workdir, "send", "--force")
    assert len(smtp_server.messages) == 4
    assert [d.status for d in ledger(workdir.db)] == ["sent"] * 4


def test_a_subscriber_added_later_does_not_resend_old_papers_to_others(workdir, smtp_server):
    erin = subscriber("erin", "imitation learning")
    setup(workdir, [IMITATION, NOBODY], ALICE)
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "run", "--once")
    assert [papers_in(m.message) for m in smtp_server.messages] == [ids(IMITATION)]

    setup(workdir, [IMITATION, NOBODY, IMITATION_2], ALICE, erin)
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--force")

    [to_alice] = smtp_server.to("alice@example.org")[1:]
    [to_erin] = smtp_server.to("erin@example.org")
    assert papers_in(to_alice.message) == ids(IMITATION_2)
    assert papers_in(to_erin.message) == ids(IMITATION, IMITATION_2)  # a first digest reaches back


def test_server_that_refuses_then_accepts_delivers_exactly_once(workdir, smtp_server):
    setup(workdir, [IMITATION, REASONING], ALICE)
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "fetch")

    smtp_server.refuse_next(1)
    result = digestbot(workdir, "send", expect=1)
    assert smtp_server.refused == 1
    assert smtp_server.messages == []
    assert "alice: FAILED (kept, will retry)" in result.output
    [record] = ledger(workdir.db)
    assert (record.status, record.attempts) == ("pending", 1)
    assert re.search(r"\b451\b", record.last_error or "")

    status = digestbot(workdir, "status").output
    assert "Undelivered digests" in status
    row = next(line for line in status.splitlines() if re.search(r"\b451\b", line))  # not a port's digits
    assert "alice" in row and "pending" in row and "try again later" in row

    digestbot(workdir, "send")  # the retry waits for its backoff; no second digest meanwhile
    assert smtp_server.messages == []

    digestbot(workdir, "send", "--force")
    [mail] = smtp_server.messages
    assert mail.message["Message-ID"] == record.message_id
    assert papers_in(mail.message) == ids(IMITATION)
    [record] = ledger(workdir.db)
    assert (record.status, record.attempts, record.last_error) == ("sent", 2, None)
    assert "No undelivered digests." in digestbot(workdir, "status").output

    digestbot(workdir, "send", "--force")
    assert len(smtp_server.messages) == 1
    assert len(ledger(workdir.db)) == 1


def test_one_refused_message_does_not_stop_the_rest_of_the_batch(workdir, smtp_server):
    setup(workdir, [IMITATION, REASONING, GRAPHS], ALICE, BOB, DAVE)
    workdir.use_smtp(smtp_server.url)
    smtp_server.refuse_next(1)

    result = digestbot(workdir, "run", "--once", expect=1)

    assert "Digests: 2 sent, 1 failed" in result.output
    assert len(smtp_server.messages) == 2
    [waiting] = [d for d in ledger(workdir.db) if d.status == "pending"]
    assert smtp_server.to(f"{waiting.subscriber_id}@example.org") == []

    digestbot(workdir, "send", "--force")
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "alice@example.org",
        "bob@example.org",
        "dave@example.org",
    ]
    [late] = smtp_server.to(f"{waiting.subscriber_id}@example.org")
    assert late.message["Message-ID"] == waiting.message_id


def test_papers_arriving_while_a_digest_waits_come_in_the_next_one(workdir, smtp_server):
    setup(workdir, [IMITATION], ALICE)
    workdir.use_smtp(smtp_server.url)
    smtp_server.refuse_next(1)
    digestbot(workdir, "run", "--once", expect=1)
    [waiting] = ledger(workdir.db)

    write_feed(workdir.path / "feed.xml", [IMITATION, IMITATION_2])
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--force")

    first, second = smtp_server.messages
    assert first.message["Message-ID"] == waiting.message_id
    assert papers_in(first.message) == ids(IMITATION)
    assert papers_in(second.message) == ids(IMITATION_2)
    assert [d.status for d in ledger(workdir.db)] == ["sent", "sent"]


def test_unreachable_server_keeps_the_digest_until_it_can_be_delivered(workdir, smtp_server, closed_smtp_url):
    setup(workdir, [IMITATION], ALICE)
    workdir.use_smtp(closed_smtp_url)

    result = digestbot(workdir, "run", "--once", expect=1)
    assert "cannot reach SMTP server" in result.output
    [record] = ledger(workdir.db)
    assert record.status == "pending"
    assert "cannot reach SMTP server" in (record.last_error or "")

    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "send", "--force")
    [mail] = smtp_server.messages
    assert mail.message["Message-ID"] == record.message_id
    assert papers_in(mail.message) == ids(IMITATION)
    assert [d.status for d in ledger(workdir.db)] == ["sent"]


def test_failing_source_exits_1_but_the_rest_is_delivered(workdir, smtp_server):
    shutil.copy(FIXTURES / "html_error_page.html", workdir.path / "broken.html")
    write_feed(workdir.path / "feed.xml", [IMITATION])
    sources = SOURCES + "- name: broken\n  type: arxiv_rss\n  url: broken.html\n"
    workdir.write_config(sources, ALICE)
    workdir.use_smtp(smtp_server.url)

    result = digestbot(workdir, "run", "--once", expect=1)

    assert "broken: FAILED" in result.output
    [mail] = smtp_server.messages
    assert papers_in(mail.message) == ids(IMITATION)


# --- the outbox -------------------------------------------------------------------------------


def test_without_smtp_url_digests_go_to_the_outbox(workdir):
    setup(workdir, [IMITATION, REASONING, NOBODY], ALICE, BOB)

    digestbot(workdir, "run", "--once")

    files = sorted(workdir.outbox.glob("*.eml"))
    assert len(files) == 2
    assert not list(workdir.outbox.glob(".tmp-*"))
    found = {}
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[msg["To"].addresses[0].addr_spec] = papers_in(msg)
        assert msg["Message-ID"]
    assert found == {"alice@example.org": ids(IMITATION), "bob@example.org": ids(REASONING)}
    assert {d.destination for d in ledger(workdir.db)} == {str(p) for p in files}


# --- previews and dry runs record nothing ----------------------------------------------------


def test_preview_writes_html_and_records_nothing(workdir, smtp_server):
    setup(workdir, [IMITATION, REASONING], ALICE)
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "fetch")
    out = workdir.path / "preview.html"

    digestbot(workdir, "preview", "alice", "--format", "html", "-o", str(out))

    html = out.read_text(encoding="utf-8")
    assert paper_ids(html) == ids(IMITATION)
    assert "Schrödinger Robots with Zoë" in html
    assert re.search(r'<span class="hl"[^>]*>Imitation Learning</span>', html)
    assert ledger(workdir.db) == []
    assert state(workdir, "alice").last_seq is None
    assert smtp_server.messages == []
    digestbot(workdir, "send")  # the preview used nothing up
    [mail] = smtp_server.messages
    assert papers_in(mail.message) == ids(IMITATION)


def test_preview_shows_the_footer_as_sent(workdir, smtp_server):
    setup(workdir, [IMITATION], ALICE)
    workdir.use_smtp(smtp_server.url)
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", "https://digest.example.org")
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", "s3cret")
    digestbot(workdir, "fetch")

    html = digestbot(workdir, "preview", "alice", "--format", "html").output
    text = digestbot(workdir, "preview", "alice").output
    eml = digestbot(workdir, "preview", "alice", "--format", "eml").output

    digestbot(workdir, "send")
    [mail] = smtp_server.messages
    sent_text, sent_html = body_parts(mail.message)
    footer = sent_html[sent_html.index('id="digest-footer"') :]
    assert "https://digest.example.org/unsubscribe?t=" in footer
    assert footer in html  # the same footer, links and all
    sent_footer = sent_text.replace("\r\n", "\n").split("\n-- \n")[1]
    assert "Unsubscribe: https://digest.example.org/unsubscribe?t=" in sent_footer
    assert sent_footer in text
    assert "More like this" in html and "More like this" in text

    previewed = email.message_from_string(eml, policy=email.policy.default)
    for header in ("From", "To", "List-Id", "List-Unsubscribe-Post"):
        assert previewed[header] == mail.message[header], header
    assert previewed["List-Unsubscribe"].startswith("<https://digest.example.org/unsubscribe?t=")


def test_dry_run_sends_and_records_nothing(workdir, smtp_server):
    setup(workdir, [IMITATION, REASONING], ALICE, BOB, CAROL)
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "fetch")

    result = digestbot(workdir, "send", "--dry-run")

    assert "alice: would send 1 paper(s)" in result.output
    assert "Dry run: 2 digest(s) would be sent, 1 subscriber(s) with nothing new." in result.output
    assert smtp_server.messages == []
    assert smtp_server.connections == 0
    assert ledger(workdir.db) == []
    assert all(state(workdir, s).last_seq is None for s in ("alice", "bob", "carol"))
    digestbot(workdir, "send")
    assert len(smtp_server.messages) == 2


# --- config errors ----------------------------------------------------------------------------

BROKEN_YAML = """\
email:
  from: "Paper digest <digest@example.org>"
sources:
  - name: feed
    type: arxiv_rss
    url: feed.xml
subscribers:
  - id: alice
    email: alice@example.org
    keywords: [imitation learning]
    schedule: fortnightly 08:00
  - id: alice
    email: alice2@example.org
    keywords: [reasoning]
    colour: blue
"""


def write_broken_config(workdir) -> None:
    write_feed(workdir.path / "feed.xml", [IMITATION])
    workdir.config.write_text(BROKEN_YAML, encoding="utf-8")


def test_check_lists_every_problem_with_its_line(workdir):
    write_broken_config(workdir)

    result = digestbot(workdir, "check", expect=2)

    cfg = str(workdir.config)
    problems = [line for line in result.output.splitlines() if line.startswith(cfg + ":")]
    assert [re.match(r".*:(\d+): ([^:]+): ", p).groups() for p in problems] == [
        ("11", "subscribers[0].schedule"),
        ("12", "subscribers[1].id"),
        ("15", "subscribers[1].colour"),
    ]
    assert problems[0].startswith(
        f"{cfg}:11: subscribers[0].schedule: cannot read schedule 'fortnightly 08:00'"
    )
    assert problems[1] == f"{cfg}:12: subscribers[1].id: duplicate id 'alice'"
    assert problems[2] == f"{cfg}:15: subscribers[1].colour: unknown key"
    assert "3 problem(s)" in result.output


def test_send_with_broken_config_exits_2_and_leaves_the_database_untouched(workdir, smtp_server):
    setup(workdir, [IMITATION], ALICE)
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "run", "--once")
    before = db_dump(workdir.db)

    write_broken_config(workdir)
    result = digestbot(workdir, "send", "--force", expect=2)

    assert "duplicate id 'alice'" in result.output
    assert db_dump(workdir.db) == before
    assert len(smtp_server.messages) == 1


def test_send_with_broken_config_creates_no_database(workdir):
    write_broken_config(workdir)

    result = digestbot(workdir, "send", expect=2)

    assert "nothing was changed" in result.output
    assert not workdir.db.exists()


# --- PIPELINING (RFC 2920) ----------------------------------------------------------------------


def test_with_pipelining_digests_arrive_and_refusals_are_kept_for_retry(workdir, smtp_server):
    """A server offering PIPELINING gets MAIL, RCPT and DATA in one write; what arrives, and what
    a refused message or recipient leads to, is the same as without it."""
    smtp_server.handler.pipelining = True
    smtp_server.handler.refuse_rcpt = {"bob@example.org"}
    setup(workdir, [IMITATION, REASONING, GRAPHS], ALICE, BOB, DAVE)
    workdir.use_smtp(smtp_server.url)
    smtp_server.refuse_next(1)  # alice's message is refused at the end of DATA

    result = digestbot(workdir, "run", "--once", expect=1)

    assert "recipient refused: 550" in result.output
    [dave] = smtp_server.messages
    assert dave.rcpt_tos == ("dave@example.org",)
    assert papers_in(dave.message) == ids(GRAPHS)
    pending = {d.subscriber_id: d for d in ledger(workdir.db, status="pending")}
    assert set(pending) == {"alice", "bob"}

    smtp_server.handler.refuse_rcpt = set()
    digestbot(workdir, "send", "--force")

    by_recipient = {m.rcpt_tos[0]: m for m in smtp_server.messages}
    assert papers_in(by_recipient["alice@example.org"].message) == ids(IMITATION)
    assert papers_in(by_recipient["bob@example.org"].message) == ids(REASONING)
    assert by_recipient["alice@example.org"].message["Message-ID"] == pending["alice"].message_id
    assert len(smtp_server.messages) == 3
