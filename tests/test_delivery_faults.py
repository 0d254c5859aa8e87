"""Delivery faults as a real mail relay, Slack workspace or disk shows them.

SMTP: a real aiosmtpd server on loopback that takes a whole message and then drops the
connection or stalls before confirming it (the possibly-delivered window), answers 421, or
refuses one recipient. Slack: the local Web API stand-in (`slack_api`), or a raw HTTP server
for what it cannot script (a dropped connection, a body that is not JSON). The outbox: a full
disk. Every test checks what arrived and what the ledger says.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from conftest import RecordingHandler, serving
from helpers import digestbot, ledger, subscriber
from test_email_delivery import IMITATION, REASONING, setup

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
