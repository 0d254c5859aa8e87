"""Composing the MIME message for an email digest (pure: no sending here).

A digest email always has the same shape: a few headers and a multipart/alternative body with a
plain-text part (quoted-printable) and an HTML part (base64). It is written out directly, with
the C encoders of `binascii`/`base64`: several times faster than building an `email.message`
tree and running it through `email.generator`, which matters when thousands go out in a run.
Header values go through `one_line` first, so text from a feed can never split a header.

Addresses are never encoded words (RFC 2047 forbids that for the address itself): a domain
outside ASCII is written in IDNA (`xn--…`), which any server takes; a local part outside ASCII
(`zoë@…`) is written as UTF-8 (RFC 6532) and the message is marked `smtputf8`, which only a
server offering SMTPUTF8 (RFC 6531) may be given.
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
from urllib.parse import quote, unquote

from ..render import EmailParts
from ..text import host_name, idna_domain, idna_url, one_line

LINE = 78  # recommended header line length (RFC 5322 2.1.1)
CRLF = "\r\n"


@dataclass(frozen=True)
class OutgoingEmail:
    """A finished message: the envelope addresses and the bytes to send (CRLF line endings)."""

    sender: str
    recipient: str
    data: bytes
    smtputf8: bool = False  # an address needs SMTPUTF8 (a local part outside ASCII)

    def as_bytes(self) -> bytes:
        return self.data


def make_message_id(subscriber_id: str, created: datetime, sender: str) -> str:
    """A Message-ID unique to one digest; stored with it, so every retry reuses it."""
    domain = envelope_address(sender).rpartition("@")[2] or "digestbot.localhost"
    # a dot-atom (RFC 5322 id-left): no dot at an end of the id, nor two in a row (`alice.`, `a..b`)
    who = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9.-]", "-", subscriber_id)[:40]).strip(".") or "x"
    return f"<digest.{who}.{created:%Y%m%d%H%M%S}.{secrets.token_hex(6)}@{domain}>"


_NAME_ADDR_RE = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>\s*")


def split_address(value: str) -> tuple[str, str]:
    """`Name <addr>` as a person writes it, as (name, addr): the name is all that comes before
    the `<…>`, a comma, colon or `@` in it included (email.utils reads those as RFC 5322 syntax:
    `Digest, ML Lab <…>` was no address, `ML Lab: papers <…>` the name "papers"); quotes around
    it, and their backslash escapes, are taken off. Else `addr` or `addr (Name)`, as
    email.utils reads them."""
    value = one_line(value)
    found = _NAME_ADDR_RE.fullmatch(value)
    if found is None:
        return parseaddr(value)
    name = found["name"].strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = re.sub(r"\\(.)", r"\1", name[1:-1]).strip()
    return name, found["addr"].strip()


def envelope_address(value: str) -> str:
    """The bare address of `Name <addr>`, its domain in IDNA when it is not ASCII."""
    addr = split_address(value)[1]
    local, at, domain = addr.rpartition("@")
    if not at or domain.isascii():
        return addr
    # Not Python's `idna` codec: that is IDNA 2003, which sends `straße` to another domain, `strasse`.
    host = host_name(domain)
    return f"{local}@{host}" if host else addr  # no host name: as UTF-8, which needs SMTPUTF8


def needs_smtputf8(value: str) -> bool:
    """Whether mail to or from this address needs SMTPUTF8: not ASCII as sent (a local part
    outside ASCII, or a domain IDNA cannot write, such as one with an emoji)."""
    return not envelope_address(value).isascii()


def ascii_message_id(message_id: str) -> str:
    """A Message-ID as the header carries it: its domain in IDNA (one recorded before ids were
    made so is sent so too). Structured headers take no encoded words: one there is no id."""
    local, at, domain = message_id.rpartition("@")
    return f"{local}@{idna_domain(domain.rstrip('>'))}>" if at and not domain.isascii() else message_id


# Every printable ASCII character but the space: quote() then encodes only what is not ASCII.
_URI_SAFE = "".join(map(chr, range(0x21, 0x7F)))


def ascii_uri(uri: str) -> str:
    """A List-Unsubscribe target in ASCII, as that header needs (no encoded words): the host or
    the mailto domain in IDNA, anything else outside ASCII percent-encoded as UTF-8 (RFC 3987,
    RFC 6068)."""
    if uri.isascii():
        return uri
    if uri.lower().startswith("mailto:"):
        addr, q, query = uri[len("mailto:") :].partition("?")
        local, at, domain = unquote(addr).rpartition("@")
        addr = f"{quote(local, safe=_URI_SAFE)}@{idna_domain(domain)}" if at else quote(addr, safe=_URI_SAFE)
        return f"mailto:{addr}{q}{quote(query, safe=_URI_SAFE)}"
    return quote(idna_url(uri), safe=_URI_SAFE)


def _address(value: str) -> str:
    """`Name <addr>` as a header value: the name RFC 2047-encoded when needed (`_phrase`), the
    address never (see envelope_address)."""
    name = split_address(value)[0]
    addr = envelope_address(value)
    if not name:
        return addr
    if name.isascii():
        return formataddr((name, "x@x"))[: -len("<x@x>")] + f"<{addr}>"
    return f"{_phrase(name)} <{addr}>"


_ATOM_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 atext
PHRASE_WORD = LINE - len("From: ")  # an encoded word that fits on the first line too


def _phrase(name: str) -> str:
    """A display name outside ASCII as encoded words and atoms: its plain ASCII words stay as
    written, the runs of other words become encoded words of at most PHRASE_WORD characters,
    cut at a space where one allows. Whitespace between two encoded words is dropped by a
    reader that follows RFC 2047 and kept by others (Python's own parser among them), so a
    word cut in half (what formataddr and Header write) reads as two words there."""
    out: list[str] = []
    run: list[str] = []
    for word in [*name.split(" "), None]:
        if word is not None and not _ATOM_RE.fullmatch(word):
            run.append(word)
            continue
        if run:
            out += _run_words(run)
            run = []
        if word:
            out.append(word)
    return " ".join(out)


def _run_words(words: list[str]) -> list[str]:
    """Words (with the spaces between them) as encoded words, each holding as many whole words
    as fit in PHRASE_WORD characters, the space before it inside; a word too long for one is
    cut (that reader sees a space there)."""
    pieces: list[str] = []
    for word in words:
        if pieces and len(_encoded(f"{pieces[-1]} {word}")) <= PHRASE_WORD:
            pieces[-1] += f" {word}"
        else:
            pieces.append(f" {word}" if pieces else word)
    out = []
    for piece in pieces:
        encoded = _encoded(piece)
        if len(encoded) > PHRASE_WORD:
            encoded = _encoded_words(piece, "From")
        out.append(encoded)
    return out


def _encoded(text: str) -> str:
    """`text` as one UTF-8 encoded word (q or b, whichever is shorter), however long."""
    return Header(text, "utf-8", maxlinelen=100_000).encode()


def _encoded_words(text: str, header_name: str) -> str:
    """`text` as UTF-8 RFC 2047 encoded words of at most 75 characters each (the first short
    enough to follow `header_name:` in a line), space-separated."""
    # Header's own limit lets a word reach 76 characters: one less keeps every word within 75
    encoded = Header(text, "utf-8", maxlinelen=LINE - 3, header_name=header_name).encode(linesep=CRLF)
    return encoded.replace(CRLF, "")


def _spells_encoded_word(text: str) -> bool:
    """Whether plain text holds what a mail client would decode as an RFC 2047 encoded word
    (`=?utf-8?q?=0D=0A?=`): then it must be encoded itself, or a title from a feed could put a
    line break or a direction override into the Subject as the reader sees it. (Only free text
    is encoded so: in a URL or a Message-ID, `=?` is what it says.)"""
    return "=?" in text


def list_id(sender: str) -> str:
    """`List-Id` (RFC 2919) for digests from `sender`: `"<name>" <local.domain>`, the same for
    every digest from that address, so filters and unsubscribe buttons can tell them apart."""
    name, addr = split_address(sender)
    local, _, domain = envelope_address(addr).rpartition("@")
    label = re.sub(r"[^A-Za-z0-9-]+", "-", local).strip("-") or "digest"
    domain = re.sub(r"[^A-Za-z0-9.-]+", "-", domain).strip(".-") or "digestbot.localhost"
    phrase = re.sub(r'[\\"]', "", name)
    phrase = f'"{phrase}" ' if phrase and phrase.isascii() else ""
    return f"{phrase}<{label}.{domain}>"


def one_click_allowed(unsubscribe: list[str]) -> bool:
    """RFC 8058 one-click needs an https unsubscribe URI among the List-Unsubscribe targets."""
    return any(u.lower().startswith("https://") for u in unsubscribe)


def _header(name: str, value: str) -> str:
    """`Name: value` folded at spaces to stay near LINE characters; non-ASCII text as RFC 2047
    encoded words (the Header encoder keeps the spaces between non-ASCII words, which Python's
    newer folder drops before the gh-144156 fix: "Zoë: Schrödinger" became "Zoë:Schrödinger")."""
    value = one_line(value)
    if name not in _ADDRESS_HEADERS and (
        not value.isascii() or (name == "Subject" and _spells_encoded_word(value))
    ):  # an address header was encoded by _address; a UTF-8 address stays as it is
        value = _encoded_words(value, name)
    return _fold(f"{name}:", value)


def _fold(start: str, value: str) -> str:
    """`start` and `value` as header lines of at most LINE characters where a space allows."""
    lines, line = [], start
    for word in value.split(" "):
        if len(line) + 1 + len(word) > LINE and line.strip() and line != start:
            lines.append(line)
            line = ""
        line = f"{line} {word}"
    lines.append(line)
    return CRLF.join(lines) + CRLF


_ADDRESS_HEADERS = ("From", "To")


def _crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


_FROM_LINE_RE = re.compile(rb"^From ", re.MULTILINE)


def _no_from_lines(qp: bytes) -> bytes:
    """Quoted-printable with no line starting `From `, which an mbox mailbox (RFC 4155) takes
    for a new message and its server writes `>From `: the F as `=46`, then a soft line break
    (the line may already be 76 characters, quoted-printable's limit), so it reads the same."""
    return _FROM_LINE_RE.sub(b"=46rom=\r\n ", qp)


def build_email(
    parts: EmailParts,
    *,
    sender: str,
    to: str,
    message_id: str,
    date: datetime,
    unsubscribe: list[str] | None = None,
    one_click: bool = False,
    list_name: str | None = None,
) -> OutgoingEmail:
    """A multipart/alternative message (plain text + HTML), UTF-8 throughout. `one_click` adds
    `List-Unsubscribe-Post` only when an https target is listed (RFC 8058 requires https).
    `list_name` is the List-Id (default: made from the sender, see `list_id`)."""
    boundary = f"==digestbot-{secrets.token_hex(12)}=="
    headers = [
        ("From", _address(sender)),
        ("To", _address(to)),
        ("Subject", parts.subject or "Your paper digest"),
        ("Date", format_datetime(date)),
        ("Message-ID", ascii_message_id(message_id)),
        ("List-Id", list_name or list_id(sender)),
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
    ]
    if unsubscribe:
        targets = [ascii_uri(one_line(u)) for u in unsubscribe]
        headers.append(("List-Unsubscribe", ", ".join(f"<{u}>" for u in targets)))
        if one_click and one_click_allowed(unsubscribe):
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    headers += [("MIME-Version", "1.0"), ("Content-Type", f'multipart/alternative; boundary="{boundary}"')]
    text = _no_from_lines(_crlf(binascii.b2a_qp(parts.text.encode("utf-8"), istext=True)))
    html = _crlf(base64.encodebytes(parts.html.encode("utf-8")))
    head = "".join(_header(n, v) for n, v in headers)
    data = b"".join(
        [
            head.encode("utf-8"),
            f'\r\n--{boundary}\r\nContent-Type: text/plain; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode(),
            text,
            f'\r\n--{boundary}\r\nContent-Type: text/html; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n".encode(),
            html,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    envelope = (envelope_address(sender), envelope_address(to))
    return OutgoingEmail(
        sender=envelope[0],
        recipient=envelope[1],
        data=data,
        smtputf8=not (head.isascii() and "".join(envelope).isascii()),
    )
