"""Faults in what a reader receives: the digest email's headers and parts as they arrive at a
real SMTP server (aiosmtpd on loopback), parsed with the email package as a mail client would.
"""

from __future__ import annotations

from helpers import FeedPaper, digestbot
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
