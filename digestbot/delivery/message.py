"""Composing the MIME message for an email digest (pure: no sending here)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr

from ..render import EmailParts
from ..text import one_line

# Plain text as quoted-printable (readable in the raw source), HTML as base64 (the inlined CSS
# makes it large, and base64 is encoded in C).
_TEXT_CHARSET = Charset("utf-8")
_TEXT_CHARSET.body_encoding = QP


class _Policy(Compat32):
    """compat32, minus its one slow habit: it runs every header, even a short ASCII one, through
    the full RFC 2047 folding machinery. Short one-line ASCII headers are written as they are."""

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= (self.max_line_length or 78)
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_POLICY = _Policy()


def make_message_id(subscriber_id: str, created: datetime, sender: str) -> str:
    """A Message-ID unique to one digest; stored with it, so every retry reuses it."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "digestbot.localhost"
    who = re.sub(r"[^A-Za-z0-9.-]", "-", subscriber_id)[:40]
    return f"<digest.{who}.{created:%Y%m%d%H%M%S}.{secrets.token_hex(6)}@{domain}>"


def _address(value: str) -> str:
    name, addr = parseaddr(one_line(value))
    return formataddr((name, addr), charset="utf-8") if name else addr


def _text(value: str) -> str | Header:
    """A free-text header value on one line; non-ASCII as RFC 2047 encoded words."""
    value = one_line(value)
    # The Header encoder keeps the spaces between non-ASCII words inside the encoded words;
    # Python's newer folder drops them before the gh-144156 fix ("Zoë:Schrödinger").
    return value if value.isascii() else Header(value, "utf-8", header_name="Subject")


def build_email(
    parts: EmailParts,
    *,
    sender: str,
    to: str,
    message_id: str,
    date: datetime,
    unsubscribe: list[str] | None = None,
    one_click: bool = False,
) -> Message:
    """A multipart/alternative message (plain text + HTML), UTF-8 throughout.

    Every header value is forced onto one line first: text from feeds (a title in the Subject)
    must never split a header, and one bad title must not abort a whole digest. Built with the
    classic `email.mime` API, which is several times faster than EmailMessage's header parser.
    """
    msg = MIMEMultipart("alternative", policy=_POLICY)
    msg["From"] = _address(sender)
    msg["To"] = _address(to)
    msg["Subject"] = _text(parts.subject or "Your paper digest")
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = one_line(message_id)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    if unsubscribe:
        msg["List-Unsubscribe"] = ", ".join(f"<{one_line(u)}>" for u in unsubscribe)
        if one_click:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.attach(MIMEText(parts.text, "plain", _TEXT_CHARSET, policy=_POLICY))
    msg.attach(MIMEText(parts.html, "html", "utf-8", policy=_POLICY))
    return msg
