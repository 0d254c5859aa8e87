"""Composing the MIME message for an email digest (pure: no sending here).

A digest email always has the same shape: a few headers and a multipart/alternative body with a
plain-text part (quoted-printable) and an HTML part (base64). It is written out directly, with
the C encoders of `binascii`/`base64`: several times faster than building an `email.message`
tree and running it through `email.generator`, which matters when thousands go out in a run.
Header values go through `one_line` first, so text from a feed can never split a header.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr

from ..render import EmailParts
from ..text import one_line

LINE = 78  # recommended header line length (RFC 5322 2.1.1)
CRLF = "\r\n"


@dataclass(frozen=True)
class OutgoingEmail:
    """A finished message: the envelope addresses and the bytes to send (CRLF line endings)."""

    sender: str
    recipient: str
    data: bytes

    def as_bytes(self) -> bytes:
        return self.data


def make_message_id(subscriber_id: str, created: datetime, sender: str) -> str:
    """A Message-ID unique to one digest; stored with it, so every retry reuses it."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "digestbot.localhost"
    who = re.sub(r"[^A-Za-z0-9.-]", "-", subscriber_id)[:40]
    return f"<digest.{who}.{created:%Y%m%d%H%M%S}.{secrets.token_hex(6)}@{domain}>"


def _address(value: str) -> str:
    name, addr = parseaddr(one_line(value))
    return formataddr((name, addr), charset="utf-8") if name else addr


def _header(name: str, value: str) -> str:
    """`Name: value` folded at spaces to stay near LINE characters; non-ASCII text as RFC 2047
    encoded words (the Header encoder keeps the spaces between non-ASCII words, which Python's
    newer folder drops before the gh-144156 fix: "Zoë: Schrödinger" became "Zoë:Schrödinger")."""
    value = one_line(value)
    if not value.isascii():
        encoded = Header(value, "utf-8", header_name=name).encode(linesep=CRLF)
        return f"{name}: {encoded}{CRLF}"
    lines, line = [], f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > LINE and line.strip() and not line.endswith(":"):
            lines.append(line)
            line = ""
        line = f"{line} {word}"
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def build_email(
    parts: EmailParts,
    *,
    sender: str,
    to: str,
    message_id: str,
    date: datetime,
    unsubscribe: list[str] | None = None,
    one_click: bool = False,
) -> OutgoingEmail:
    """A multipart/alternative message (plain text + HTML), UTF-8 throughout."""
    boundary = f"==digestbot-{secrets.token_hex(12)}=="
    headers = [
        ("From", _address(sender)),
        ("To", _address(to)),
        ("Subject", parts.subject or "Your paper digest"),
        ("Date", format_datetime(date)),
        ("Message-ID", message_id),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
    ]
    if unsubscribe:
        headers.append(("List-Unsubscribe", ", ".join(f"<{one_line(u)}>" for u in unsubscribe)))
        if one_click:
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    headers += [("MIME-Version", "1.0"), ("Content-Type", f'multipart/alternative; boundary="{boundary}"')]
    text = _crlf(binascii.b2a_qp(parts.text.encode("utf-8"), istext=True))
    html = _crlf(base64.encodebytes(parts.html.encode("utf-8")))
    data = b"".join(
        [
            "".join(_header(n, v) for n, v in headers).encode("ascii"),
            f'\r\n--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode(),
            text,
            f'\r\n--{boundary}\r\nContent-Type: text/html; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n".encode(),
            html,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return OutgoingEmail(
        sender=parseaddr(one_line(sender))[1], recipient=parseaddr(one_line(to))[1], data=data
    )
