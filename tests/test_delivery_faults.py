"""Delivery faults as a real mail relay, Slack workspace or disk shows them.

SMTP: a real aiosmtpd server on loopback that takes a whole message and then drops the
connection or stalls before confirming it (the possibly-delivered window), answers 421, or
refuses one recipient. Slack: the local Web API stand-in (`slack_api`), or a raw HTTP server
for what it cannot script (a dropped connection, a body that is not JSON). The outbox: a full
disk. Every test checks what arrived and what the ledger says.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import aiosmtpd.smtp
import pytest
import test_mail_headers
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import RecordingHandler, free_port, serving
from helpers import digestbot, ledger, subscriber
from test_daemon import bot, local_source, spawn, subscriber_yaml, topic_paper, wait_until  # noqa: F401  (bot, spawn: fixtures)
from test_email_delivery import IMITATION, REASONING, setup
from test_guarantees import fill, small_disk
from test_slack import TOKEN, many, slack_sub
from test_slack import setup as slack_setup

from digestbot.config import load_config
from digestbot.delivery import DeliveryError
from digestbot.delivery.slack import SlackTransport
from digestbot.store import Store

certificate = test_mail_headers.certificate  # the fixture: a self-signed certificate for 127.0.0.1
ALICE = subscriber("alice", "imitation learning")
BOB = subscriber("bob", "reasoning")


# --- SMTP: the answer to a whole message is lost ------------------------------------------


@dataclass
class LosesTheAnswer(RecordingHandler):
    """Keeps every message, but for the next `lose` messages to `victim` drops the connection
    (or, with `stall`, waits `stall` seconds) instead of answering the final dot."""

    victim: str = "bob@example.org"
    lose: int = 1
    stall: float = 0.0

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if self.victim in envelope.rcpt_tos and self.lose > 0:
            self.lose -= 1
            if self.stall:
                await asyncio.sleep(self.stall)
                return reply
            server.transport.close()
            return "421 4.3.0 closing"  # never reaches the client: the connection is gone
        return reply


def possibly(record) -> bool:
    return "possibly delivered" in (record.last_error or "")


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_a_connection_dropped_after_the_whole_message_is_not_sent_again_at_once(workdir, pipelining):
    setup(workdir, [IMITATION, REASONING], ALICE, BOB)
    digestbot(workdir, "fetch")
    handler = LosesTheAnswer(pipelining=pipelining)
    with serving(handler) as smtp:
        workdir.use_smtp(smtp.url)
        result = digestbot(workdir, "send", expect=1)
        # bob's message reached the server once; the reconnect that follows does not resend it
        assert sorted(m.rcpt_tos for m in smtp.messages) == [("alice@example.org",), ("bob@example.org",)]
        assert "bob: FAILED" in result.output and "possibly delivered" in result.output
        [bob] = [d for d in ledger(workdir.db) if d.subscriber_id == "bob"]
        assert (bob.status, bob.unconfirmed) == ("pending", 1) and possibly(bob)
        assert "same Message-ID" in (bob.last_error or "")

        digestbot(workdir, "send", "--force")  # a later run: once more, the same Message-ID
        first, again = smtp.to("bob@example.org")
        assert first.message["Message-ID"] == again.message["Message-ID"] == bob.message_id
        assert [d.status for d in ledger(workdir.db)] == ["sent", "sent"]
        digestbot(workdir, "send", "--force")
        assert len(smtp.messages) == 3


def test_a_message_whose_answer_is_lost_twice_is_held_as_possibly_delivered(workdir):
    setup(workdir, [REASONING], BOB)
    digestbot(workdir, "fetch")
    with serving(LosesTheAnswer(lose=5)) as smtp:
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send", expect=1)
        digestbot(workdir, "send", "--force", expect=1)
        for _ in range(3):
            digestbot(workdir, "send", "--force")
        assert len(smtp.messages) == 2  # at most twice, never a third time
    [record] = ledger(workdir.db)
    assert record.status == "unknown" and "possibly delivered" in (record.last_error or "")
    assert "possibly delivered" in digestbot(workdir, "status").output


def test_a_relay_that_stalls_after_the_whole_message_is_not_sent_to_again(workdir):
    setup(workdir, [IMITATION, REASONING], ALICE, BOB)
    digestbot(workdir, "fetch")
    workdir.monkeypatch.setenv("DIGESTBOT_SMTP_TIMEOUT", "0.5")
    with serving(LosesTheAnswer(victim="alice@example.org", stall=1.5)) as smtp:
        workdir.use_smtp(smtp.url)
        result = digestbot(workdir, "send", expect=1)
        assert [m.rcpt_tos for m in smtp.messages] == [("alice@example.org",)]  # bob's waits
        by_id = {d.subscriber_id: d for d in ledger(workdir.db)}
        assert possibly(by_id["alice"]) and "timed out" in (by_id["alice"].last_error or "")
        assert by_id["alice"].unconfirmed == 1
        assert not possibly(by_id["bob"]) and by_id["bob"].unconfirmed == 0
        assert "stalled" in (by_id["bob"].last_error or "") and "bob: FAILED" in result.output


def test_a_refusal_after_an_unconfirmed_attempt_keeps_that_attempt_counted(workdir):
    setup(workdir, [REASONING], BOB)
    digestbot(workdir, "fetch")
    handler = LosesTheAnswer(lose=1)
    with serving(handler) as smtp:
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send", expect=1)  # possibly delivered
        smtp.refuse_next(1)
        digestbot(workdir, "send", "--force", expect=1)  # 451: that attempt's outcome is known
        [record] = ledger(workdir.db)
        assert (record.status, record.unconfirmed) == ("pending", 1) and "451" in (record.last_error or "")


@dataclass
class ClosesWith421(RecordingHandler):
    """Answers `421 4.7.0 too busy, closing` to RCPT for `victim` and closes the connection."""

    victim: str = "bob@example.org"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.victim:
            await server.push("421 4.7.0 too busy, closing")
            server.transport.close()
            return "421 4.7.0 too busy, closing"  # never sent: the connection is gone
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_a_421_mid_session_is_reported_as_such_and_the_others_still_go(workdir, pipelining):
    carol = subscriber("carol", "reasoning")
    setup(workdir, [IMITATION, REASONING], ALICE, BOB, carol)
    digestbot(workdir, "fetch")
    with serving(ClosesWith421(pipelining=pipelining)) as smtp:
        workdir.use_smtp(smtp.url)
        result = digestbot(workdir, "send", expect=1)
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["alice@example.org", "carol@example.org"]
        assert smtp.connections == 2  # the one bob's 421 closed, and a new one for carol
    [bob] = ledger(workdir.db, status="pending")
    assert bob.subscriber_id == "bob" and "421 4.7.0 too busy" in (bob.last_error or "")
    assert "disconnected" not in (bob.last_error or "") and "421 4.7.0" in result.output


# --- Slack -----------------------------------------------------------------------------------


@pytest.fixture
def slack_env(workdir, slack_api, monkeypatch):
    """The stand-in as the bot's Slack, with no spacing between posts (tested on its own)."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)
    monkeypatch.setattr("digestbot.digest.SlackTransport", functools.partial(SlackTransport, interval=0.0))
    return slack_api


MESSAGE = [{"text": "a digest", "blocks": []}]


def test_a_post_slack_does_not_answer_in_time_is_not_posted_again(slack_api):
    gate = slack_api.hold("chat.postMessage", timeout=3)
    transport = SlackTransport(TOKEN, slack_api.url, timeout=1)
    started = time.monotonic()
    with pytest.raises(DeliveryError) as failed:
        transport.send("#ml", MESSAGE)
    gate.release()
    assert len(slack_api.posts) == 1 and time.monotonic() - started < 2.5  # no second post
    assert failed.value.unconfirmed and str(failed.value).startswith("possibly posted")
    with pytest.raises(DeliveryError) as later:  # the rest of the run is told why, in its words
        transport.send("#other", MESSAGE)
    assert not later.value.unconfirmed and "possibly" not in str(later.value)
    assert "did not answer a post" in str(later.value) and len(slack_api.posts) == 1


class RawSlack(http.server.BaseHTTPRequestHandler):
    """What the stand-in cannot script: reads each request whole, answers conversations.open,
    and answers chat.postMessage with `reply` (status, content type, body), or with None closes
    the connection without a word (as a proxy that lost its upstream does)."""

    posts = 0
    reply: tuple[int, str, bytes] | None = None
    cut = False  # announce more of the answer than is sent, then close (an answer cut short)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = (200, "application/json", b'{"ok": true, "channel": {"id": "D1"}}')
        if self.path.endswith("chat.postMessage"):
            type(self).posts += 1
            if self.reply is None:
                self.close_connection = True
                return
            reply = self.reply
        self.send_response(reply[0])
        self.send_header("Content-Type", reply[1])
        self.send_header("Content-Length", str(len(reply[2]) + (100 if self.cut else 0)))
        self.close_connection = self.cut
        self.end_headers()
        self.wfile.write(reply[2])

    def log_message(self, *args):
        pass


@pytest.fixture
def raw_slack(monkeypatch):
    """A RawSlack server on loopback: yields its Web API base URL."""
    monkeypatch.setattr(RawSlack, "posts", 0)
    monkeypatch.setattr(RawSlack, "reply", None)
    monkeypatch.setattr(RawSlack, "cut", False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RawSlack)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_post_whose_connection_drops_is_not_posted_again_and_the_ledger_says_possibly(workdir, raw_slack):
    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", raw_slack)
    slack_setup(workdir, many(3), slack_sub("ml", "#ml"), slack_sub("dm", "U0ABCDEF12"))
    digestbot(workdir, "fetch")
    result = digestbot(workdir, "send", expect=1)
    assert RawSlack.posts == 1  # slack-sdk's connection retry would post it three times
    first, second = sorted(ledger(workdir.db), key=lambda d: d.id)
    assert first.unconfirmed == 1 and "possibly posted" in (first.last_error or "")
    assert second.unconfirmed == 0 and "not tried again this run" in (second.last_error or "")
    assert "possibly posted" in result.output


def test_a_long_retry_after_is_left_to_a_later_run(workdir, slack_env):
    slack_setup(workdir, many(2), slack_sub("ml", "#ml"))
    digestbot(workdir, "fetch")
    slack_env.rate_limit("chat.postMessage", retry_after=3600)
    started = time.monotonic()
    result = digestbot(workdir, "send", expect=1)
    assert time.monotonic() - started < 30 and len(slack_env.posts) == 1
    [record] = ledger(workdir.db)
    assert record.status == "pending" and "wait 3600 s" in (record.last_error or "")
    assert "ratelimited" in result.output
    digestbot(workdir, "send", "--force")
    assert len(slack_env.posts) == 2 and ledger(workdir.db)[0].status == "sent"


@pytest.mark.parametrize(
    "error, fix",
    [
        ("not_in_channel", "/invite the bot"),
        ("channel_not_found", "check the subscriber's channel"),
        ("is_archived", "unarchive it"),
        ("invalid_auth", "SLACK_BOT_TOKEN"),
        ("account_inactive", "SLACK_BOT_TOKEN"),
    ],
)
def test_a_slack_refusal_that_needs_a_person_says_what_to_do(workdir, slack_env, error, fix):
    slack_setup(workdir, many(2), slack_sub("ml", "#ml"))
    digestbot(workdir, "fetch")
    slack_env.fail("chat.postMessage", error)
    digestbot(workdir, "send", expect=1)
    [record] = ledger(workdir.db)
    assert error in (record.last_error or "") and fix in (record.last_error or "")
    row = next(line for line in digestbot(workdir, "status").output.splitlines() if error in line)
    assert fix[:10] in row, row


@pytest.mark.parametrize(
    "status, ctype, body", [(200, "text/html", b"<html>\nportal</html>"), (502, "text/plain", b"Bad Gateway")]
)
def test_an_answer_that_is_not_json_says_so_with_its_status(raw_slack, status, ctype, body):
    RawSlack.reply = (status, ctype, body)
    transport = SlackTransport(TOKEN, raw_slack)
    with pytest.raises(DeliveryError) as failed:
        transport.send("#ml", MESSAGE)
    assert f"HTTP {status}, an answer that is not JSON" in str(failed.value)
    assert "portal" not in str(failed.value) and "\n" not in str(failed.value)


def test_a_dm_channel_slack_does_not_name_is_a_clear_error(slack_api):
    slack_api.answer("conversations.open", body={"ok": True})
    transport = SlackTransport(TOKEN, slack_api.url)
    with pytest.raises(DeliveryError, match="without a channel id"):
        transport.send("U123", MESSAGE)
    assert slack_api.posts == []


# --- the outbox ------------------------------------------------------------------------------


def test_a_full_disk_leaves_no_half_written_file_in_the_outbox_and_loses_nothing(workdir, tmp_path):
    setup(workdir, [IMITATION], ALICE)
    digestbot(workdir, "fetch")
    with small_disk(tmp_path / "disk") as disk:
        outbox = disk / "outbox"
        outbox.mkdir()
        workdir.monkeypatch.setenv("DIGESTBOT_OUTBOX", str(outbox))
        filler = fill(disk)
        result = digestbot(workdir, "send", expect=1)
        assert list(outbox.iterdir()) == []  # no .tmp-… file left behind
        [record] = ledger(workdir.db)
        assert record.status == "pending" and "No space left on device" in (record.last_error or "")
        assert "free some space" in result.output
        filler.unlink()
        digestbot(workdir, "send", "--force")
        [eml] = list(outbox.iterdir())
        assert eml.suffix == ".eml" and ledger(workdir.db)[0].status == "sent"


def send_through_login(workdir, handler, authenticator):
    """ALICE's and BOB's digests sent through a relay that asks for a login, `authenticator`
    answering it; the result of `send`."""
    setup(workdir, [IMITATION, REASONING], ALICE, BOB)
    digestbot(workdir, "fetch")
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
        ready_timeout=10,
    )
    controller.start()
    try:
        workdir.use_smtp(f"smtp://me:wrong@127.0.0.1:{controller.port}?starttls=off")
        return digestbot(workdir, "send", expect=1)
    finally:
        controller.stop()


def test_a_refused_login_is_tried_once_per_run_and_says_what_to_fix(workdir):
    attempts = []

    def refuse(server, session, envelope, mechanism, auth_data):
        attempts.append(mechanism)
        return AuthResult(success=False, handled=False)

    handler = RecordingHandler()
    result = send_through_login(workdir, handler, refuse)
    # one connection, one login (smtplib tries each mechanism offered once), not one per digest
    assert handler.ehlo_count == 1 and attempts == ["PLAIN", "LOGIN"] and handler.messages == []
    assert (
        result.output.count("login failed: 535") == 2
    )  # each digest says why it waits (not "535" alone: a port may hold it)
    for record in ledger(workdir.db):
        assert record.status == "pending" and "SMTP login failed: 535" in (record.last_error or "")
        assert "check the user name and password in DIGESTBOT_SMTP_URL" in (record.last_error or "")
        assert "wrong" not in (record.last_error or "")


def test_once_the_relay_is_unreachable_the_rest_fail_without_waiting_for_rate_slots(workdir, closed_smtp_url):
    carol = subscriber("carol", "reasoning")
    setup(workdir, [IMITATION, REASONING], ALICE, BOB, carol)
    digestbot(workdir, "fetch")
    workdir.use_smtp(closed_smtp_url)
    # One message per 100 s: however slowly the machine runs the command, a slot taken after
    # the first would put the next free one 100 s further (and the command would wait for it).
    workdir.monkeypatch.setenv("DIGESTBOT_SMTP_RATE", "0.01")
    before = time.time()
    digestbot(workdir, "send", expect=1)
    assert [d.status for d in ledger(workdir.db)] == ["pending"] * 3
    with Store(workdir.db) as store:
        # the first digest took a slot and found the relay gone; the other two took none
        next_free = store.take_rate_slot("smtp", 100, before)
    assert next_free < before + 200  # one slot: 100 s after it was taken; three: 300


@pytest.mark.parametrize("error", ["internal_error", "fatal_error"])
def test_a_post_slack_failed_with_an_internal_error_counts_as_possibly_posted(workdir, slack_env, error):
    slack_setup(workdir, many(2), slack_sub("ml", "#ml"))
    digestbot(workdir, "fetch")
    slack_env.fail("chat.postMessage", error, times=5)
    digestbot(workdir, "send", expect=1)
    [record] = ledger(workdir.db)
    assert record.unconfirmed == 1 and (record.last_error or "").startswith(
        f"possibly posted: Slack API error: {error}"
    )
    digestbot(workdir, "send", "--force", expect=1)  # once more, then held: never a third post
    digestbot(workdir, "send", "--force")
    assert len(slack_env.posts) == 2 and ledger(workdir.db)[0].status == "unknown"


@pytest.mark.parametrize(
    "body", [{"ok": False, "error": "internal_error"}, {"ok": False}], ids=["json", "bare"]
)
def test_a_post_answered_with_http_500_is_posted_once_and_counts_as_possibly_posted(slack_api, body):
    slack_api.answer("chat.postMessage", status=500, body=body, times=5)
    transport = SlackTransport(TOKEN, slack_api.url)
    with pytest.raises(DeliveryError) as failed:
        transport.send("#ml", MESSAGE)
    assert len(slack_api.posts) == 1  # slack-sdk's server-error retry posted it three times
    assert failed.value.unconfirmed and str(failed.value).startswith("possibly posted")
    slack_api.answer("conversations.open", status=503, body={"ok": False, "error": "service_unavailable"})
    assert SlackTransport(TOKEN, slack_api.url).channel_for("U0ABCDEF12") == slack_api.DM_CHANNEL  # retried


def test_a_login_to_a_relay_that_offers_none_says_so_not_that_it_cannot_be_reached(workdir, smtp_server):
    setup(workdir, [IMITATION, REASONING], ALICE, BOB)
    digestbot(workdir, "fetch")
    workdir.use_smtp(f"smtp://me:secret@{smtp_server.host}:{smtp_server.port}?starttls=off")
    digestbot(workdir, "send", expect=1)
    assert smtp_server.handler.messages == [] and smtp_server.handler.ehlo_count == 1  # once per run
    for record in ledger(workdir.db):
        error = record.last_error or ""
        assert record.status == "pending" and "cannot reach" not in error, error
        assert "offers no login (AUTH)" in error and "DIGESTBOT_SMTP_URL" in error, error


def test_a_login_the_relay_cannot_check_for_now_is_not_blamed_on_the_password(workdir):
    def busy(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False, message="454 4.7.0 Temporary authentication failure")

    handler = RecordingHandler()
    send_through_login(workdir, handler, busy)
    assert handler.messages == [] and handler.ehlo_count == 1
    for record in ledger(workdir.db):
        error = record.last_error or ""
        assert record.status == "pending" and "454 4.7.0 Temporary authentication failure" in error
        assert "check the user name and password" not in error and "a later run tries again" in error, error


def test_a_token_of_the_wrong_type_stops_the_run_and_says_which_token_to_use(workdir, slack_env):
    slack_setup(workdir, many(2), slack_sub("ml", "#ml"), slack_sub("dm", "U0ABCDEF12"))
    digestbot(workdir, "fetch")
    slack_env.fail("chat.postMessage", "not_allowed_token_type", times=5)  # an xapp- token, say
    slack_env.fail("conversations.open", "not_allowed_token_type", times=5)
    digestbot(workdir, "send", expect=1)
    assert len(slack_env.calls) == 1  # the first refusal says it all: no call per digest
    for record in ledger(workdir.db):
        assert record.status == "pending" and "SLACK_BOT_TOKEN" in (record.last_error or ""), record


class SaysTimeout(aiosmtpd.smtp.SMTP):
    """Lets an idle session go as Postfix does (smtpd_timeout): says 421 first, then closes."""

    def _timeout_cb(self):
        self.transport.write(b"421 4.4.2 mx.example.org Error: timeout exceeded\r\n")
        super()._timeout_cb()


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_a_connection_the_relay_timed_out_between_two_paced_messages_is_reopened(workdir, pipelining):
    setup(workdir, [IMITATION, REASONING], ALICE, BOB)
    digestbot(workdir, "fetch")
    # The relay lets a session go after 1 s idle; the rate puts 2.5 s between the two messages.
    workdir.monkeypatch.setattr("aiosmtpd.controller.SMTP", SaysTimeout)
    workdir.monkeypatch.setenv("DIGESTBOT_SMTP_RATE", "0.4")
    with serving(RecordingHandler(pipelining=pipelining), timeout=1) as smtp:
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send")
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["alice@example.org", "bob@example.org"]
        assert smtp.connections == 2
    assert [d.status for d in ledger(workdir.db)] == ["sent", "sent"]


@pytest.mark.parametrize(
    "retry_after", ["1.5", "Wed, 21 Oct 2015 07:28:00 GMT"], ids=["fraction", "http-date"]
)
def test_a_retry_after_in_any_form_http_allows_is_waited_out_and_the_post_goes(slack_api, retry_after):
    slack_api.answer(
        "chat.postMessage",
        status=429,
        body={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": retry_after},
    )
    transport = SlackTransport(TOKEN, slack_api.url)
    assert transport.send("#ml", MESSAGE) == "slack #ml"  # slack-sdk's int() raised ValueError
    assert len(slack_api.posts) == 2


def test_a_post_that_never_left_because_tls_failed_is_not_held_as_possibly_posted(workdir, slack_api):
    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url.replace("http://", "https://"))
    slack_setup(workdir, many(2), slack_sub("ml", "#ml"))
    digestbot(workdir, "fetch")
    for _ in range(3):  # the TLS handshake fails (plain HTTP there): no request ever went out
        digestbot(workdir, "send", "--force", expect=1)
        [record] = ledger(workdir.db)
        assert (record.status, record.unconfirmed) == ("pending", 0), record.last_error
        assert (
            "cannot reach the Slack API" in (record.last_error or "") and "possibly" not in record.last_error
        )
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)  # fixed: it goes, once
    digestbot(workdir, "send", "--force")
    assert len(slack_api.posts) == 1 and ledger(workdir.db)[0].status == "sent"


def test_a_post_whose_answer_is_cut_short_counts_as_possibly_posted(raw_slack):
    RawSlack.reply, RawSlack.cut = (200, "application/json", b'{"ok": true, "ts": "1.2"}'), True
    transport = SlackTransport(TOKEN, raw_slack)
    with pytest.raises(DeliveryError) as failed:  # was a bare http.client.IncompleteRead
        transport.send("#ml", MESSAGE)
    assert (
        failed.value.unconfirmed and str(failed.value).startswith("possibly posted") and RawSlack.posts == 1
    )


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long", "msg_blocks_too_long"])
def test_a_message_slack_refuses_as_malformed_says_what_slack_said_and_what_to_check(
    workdir, slack_env, error
):
    slack_setup(workdir, many(2), slack_sub("ml", "#ml"))
    digestbot(workdir, "fetch")
    detail = "[ERROR] must be less than 3001 characters [json-pointer:/blocks/1/text/text]"
    body = {"ok": False, "error": error, "response_metadata": {"messages": [detail]}}
    slack_env.answer("chat.postMessage", body=body)
    digestbot(workdir, "send", expect=1)
    [record] = ledger(workdir.db)
    assert record.status == "pending" and error in (record.last_error or "")
    assert detail in (record.last_error or "") and "digest.slack.json" in (record.last_error or "")


def test_the_wrong_scheme_for_a_port_says_which_one_it_takes(workdir, certificate):
    setup(workdir, [IMITATION], ALICE)
    digestbot(workdir, "fetch")
    workdir.monkeypatch.setenv("DIGESTBOT_SMTP_TIMEOUT", "1")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*certificate)
    with serving(RecordingHandler(), ssl_context=tls) as smtp:  # TLS from the start, as on 465
        workdir.use_smtp(smtp.url)
        digestbot(workdir, "send", expect=1)
    assert (
        "no greeting" in ledger(workdir.db)[0].last_error and "smtps://" in ledger(workdir.db)[0].last_error
    )
    with serving(RecordingHandler()) as smtp:  # plain SMTP first, as on 587 and 25
        workdir.use_smtp(smtp.url.replace("smtp://", "smtps://"))
        digestbot(workdir, "send", "--force", expect=1)
    error = ledger(workdir.db)[0].last_error or ""
    assert "answered in plain text" in error and "needs smtp://" in error, error


# --- a stop during Slack's Retry-After wait ------------------------------------------------------
# Fault: a worker told to stop (SIGTERM) while waiting out a 429 kept waiting, up to three times
# a minute, past systemd's TimeoutStopSec=60: it was killed mid-digest. The wait now ends at a
# stop; the 429 stands, and the digest waits for the next run.


def test_a_stop_during_a_retry_after_wait_ends_the_wait_and_leaves_the_digest_pending(
    workdir,
    slack_api,
    spawn,  # noqa: F811  (a fixture)
):
    import signal

    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)
    slack_setup(workdir, many(2), slack_sub("ml", "#ml"))
    digestbot(workdir, "fetch")
    slack_api.rate_limit("chat.postMessage", retry_after=60)
    proc = spawn("send")
    wait_until(lambda: len(slack_api.posts) == 1, 30, "the first post")
    proc.signal(signal.SIGTERM)
    rc = proc.finish(timeout=30)  # the wait was 60 s and up to three of them
    assert rc == 1 and len(slack_api.posts) == 1, proc.output
    [record] = ledger(workdir.db)
    assert record.status == "pending" and "ratelimited" in (record.last_error or ""), record
    digestbot(workdir, "send", "--force")
    assert len(slack_api.posts) == 2 and ledger(workdir.db)[0].status == "sent"


# --- An address the server says does not exist ------------------------------------------------
# Fault: a recipient refused with 550 5.1.1 (no such mailbox: RFC 3463's X.1.X, the address
# itself) was retried on the 5-minute backoff for a day, 16 refusals of a request the server
# said will never succeed (RFC 5321 4.2.1: not to be repeated as it was), and the fixed address
# got the digest only at the next of those tries. `DeliveryError.transient` was set and never
# read. Now such a digest waits, unretried, until the subscriber's address changes (then it goes
# at once, to the new address) or its day is up (one last try); a refusal that is not about the
# address (5.7.1 relaying denied: the relay's set-up, the same for every recipient) is retried
# as before, so fixing the relay loses nothing.


def refused_alice(smtp_server, make_bot, reply: str = "550 5.1.1 no such user here"):
    """alice's digest due at 08:00 with one paper, her address refused with `reply`: (bot, 08:00)."""
    smtp_server.handler.refuse_rcpt = {"alice@example.org"}
    smtp_server.handler.rcpt_reply = reply
    b = make_bot(
        subscriber_yaml("alice", "quokka", schedule="daily 08:00"),
        "2024-03-14 07:00",
        smtp_url=smtp_server.url,
    )
    b.add(topic_paper(1, "quokka"))
    return b, b.clock.set("2024-03-14 08:00")


def test_an_address_that_does_not_exist_waits_for_its_fix_not_the_backoff(workdir, smtp_server, bot):  # noqa: F811
    b, created = refused_alice(smtp_server, bot)
    [outcome] = b.run()
    assert outcome.status == "failed" and "5.1.1" in outcome.error
    assert "alice@example.org" in outcome.error and "email" in outcome.error  # what to fix
    for hours in (1, 6, 23):  # not tried again on the backoff
        b.clock.set(created + timedelta(hours=hours))
        assert b.run() == []
    assert smtp_server.handler.rcpt_refused == 1
    [record] = b.store.digests()
    assert record.status == "pending"

    fixed = subscriber_yaml("alice", "quokka", schedule="daily 08:00").replace("example.org", "example.net")
    workdir.write_config(local_source(), fixed)
    b.store.sync_subscribers(load_config(workdir.config).subscribers, now=b.clock())
    [outcome] = b.run()
    assert outcome.status == "sent"
    [mail] = smtp_server.messages
    assert mail.rcpt_tos == ("alice@example.net",)
    assert mail.message["Message-ID"] == record.message_id


def test_an_address_that_does_not_exist_has_one_last_try_at_the_end_of_its_day(workdir, smtp_server, bot):  # noqa: F811
    b, created = refused_alice(smtp_server, bot)
    b.run()
    b.clock.set(created + timedelta(hours=24))
    assert "given-up" in [o.status for o in b.run()]
    assert smtp_server.handler.rcpt_refused == 2
    assert b.store.digests()[0].status == "failed"


def test_a_refusal_not_about_the_address_is_retried_on_the_backoff(workdir, smtp_server, bot):  # noqa: F811
    b, created = refused_alice(smtp_server, bot, "550 5.7.1 relaying denied")
    assert b.run()[0].status == "failed"
    smtp_server.handler.refuse_rcpt = set()  # the relay fixed
    b.clock.set(created + timedelta(minutes=5))
    assert b.run()[0].status == "sent"
    assert len(smtp_server.messages) == 1
