"""Composing the MIME message for an email digest (pure: no sending here)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from ..render import EmailParts
from ..text import one_line


def make_message_id(subscriber_id: str, created: datetime, sender: str) -> str:
    """A Message-ID unique to one digest; stored with it, so every retry reuses it."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "digestbot.localhost"
    who = re.sub(r"[^A-Za-z0-9.-]", "-", subscriber_id)[:40]
    return f"<digest.{who}.{created:%Y%m%d%H%M%S}.{secrets.token_hex(6)}@{domain}>"


def _set_subject(msg: EmailMessage, subject: str) -> None:
    if subject.isascii():
        msg["Subject"] = subject
        return
    # Python's folder (before the gh-144156 fix) drops the space between two adjacent encoded
    # words ("Zoë: Schrödinger" arrives as "Zoë:Schrödinger"); the older Header encoder keeps
    # spaces inside the encoded words, so encode it ourselves and store it as is.
    msg.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode(linesep=msg.policy.linesep))


def build_email(
    parts: EmailParts,
    *,
    sender: str,
    to: str,
    message_id: str,
    date: datetime,
    unsubscribe: list[str] | None = None,
    one_click: bool = False,
) -> EmailMessage:
    """A multipart/alternative message (plain text + HTML) with UTF-8 headers.

    Header values are forced onto one line first: Python's email package raises on CR, LF or
    U+2028 in a header, and one bad title must not abort a whole digest.
    """
    msg = EmailMessage(policy=SMTP)
    msg["From"] = one_line(sender)
    msg["To"] = one_line(to)
    _set_subject(msg, one_line(parts.subject) or "Your paper digest")
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    if unsubscribe:
        msg["List-Unsubscribe"] = ", ".join(f"<{one_line(u)}>" for u in unsubscribe)
        if one_click:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(parts.text, charset="utf-8")
    msg.add_alternative(parts.html, subtype="html", charset="utf-8")
    return msg
