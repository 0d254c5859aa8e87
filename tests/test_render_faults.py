"""Faults in what a reader receives: the digest email's headers and parts as they arrive at a
real SMTP server (aiosmtpd on loopback), parsed with the email package as a mail client would.
"""

from __future__ import annotations

from helpers import FeedPaper, digestbot, ledger
from test_email_delivery import ALICE, body_parts
from test_email_delivery import setup as write_setup

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
    assert ENCODED_WORD_TITLE.title in text


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
