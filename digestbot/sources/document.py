"""Feed documents as bytes, before any XML parser sees them: encoding, entity declarations,
repairs of what feedparser would read past, and shapes that make parsing explode. Pure
functions, each linear in the size."""

from __future__ import annotations

import codecs
import json
import re
from html.entities import html5

from feedparser.encodings import RE_XML_PI_ENCODING, convert_to_utf8, parse_content_type

from ..text import bom_encoding

MAX_REPAIRS = 100_000  # more than this many is not a feed with a flaw but a broken (or hostile) one
MAX_ATTRIBUTES = 256  # in one tag; real feeds stay under 30, and feedparser's cost is quadratic in it

# An entity or character reference, or a bare `&` (neither). What is surely well-formed and by
# far the most common is passed over without a call back: XML's five entities (escaped HTML is
# full of them) and character references from 32 to 9999 (0x100 to 0xCFFF).
_AMPERSAND_RE = re.compile(
    rb"&(?!(?:amp|lt|gt|quot|apos);|#(?:3[2-9]|[4-9][0-9]|[1-9][0-9]{2,3});|#[xX][1-9A-Ca-c][0-9A-Fa-f]{2,3};)"
    rb"(?:([A-Za-z][A-Za-z0-9]{0,31});|(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});)?"
)
_CONTROLS = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_DTD_RE = re.compile(rb"<!ENTITY|<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
# A tag with MAX_ATTRIBUTES quoted attribute values (`=` then a quote). `>` may stand inside an
# XML attribute value and `<` may not, so a tag runs to the next `<`. Possessive quantifiers
# keep the scan linear whatever the input.
_CROWDED_TAG_RE = re.compile(rb"<(?:(?:[^<=]++|=(?!\s*+[\"']))*+=\s*+[\"']){%d}" % MAX_ATTRIBUTES)


class TooBroken(ValueError):
    """More repairs than MAX_REPAIRS: reading on would cost more than the feed is worth."""


def as_utf8(content: bytes, content_type: str = "") -> tuple[bytes, str | None]:
    """The document re-encoded as UTF-8, and what was wrong with its encoding, if anything.

    A byte order mark decides (the XML spec, RFC 7303). Then the document's own declaration, or
    UTF-8 when it declares none, as long as the bytes decode so: a declaration is the feed's
    author's, a server's charset (`content_type`, the Content-Type header) is often its default
    for every file (`iso-8859-1` over UTF-8 feeds). Else the server's charset, which is how a
    feed names an encoding it does not declare (`charset=iso-8859-7`); feedparser's own
    detection (EBCDIC, UTF-7..., then windows-1252) comes last."""
    try:
        bom = bom_encoding(content)
        if bom:
            converted, error = _convert(content, bom)
            if error is None:
                return converted, None
        converted, error = _convert(content, None)
        charset = parse_content_type(content_type)[1] if content_type else ""
        if error is not None and charset:
            again, still = _convert(content, charset)
            if still is None:
                declared = RE_XML_PI_ENCODING.match(content)
                said = declared.group(1).decode("ascii", "replace") if declared else None
                return again, (
                    f"encoding: declared as {said}, but it is {charset} as the server says" if said else None
                )
    except Exception:  # undecodable: let the parser say what is wrong with it
        return content, None
    return converted, (f"encoding: {error}" if error else None)


def _convert(content: bytes, charset: str | None) -> tuple[bytes, Exception | None]:
    """feedparser's conversion to UTF-8, with `charset` as the encoding to try first (else what
    the document declares), and what it had to override."""
    result: dict = {}
    headers = {"content-type": f"application/xml; charset={charset}"} if charset else {}
    return convert_to_utf8(headers, content, result), result.get("bozo_exception")


# White space and UTF-8 byte order marks, in any order, at the start of a document.
_LEADING_RE = re.compile(rb"(?:[ \t\r\n]|\xef\xbb\xbf)+")
LEADING_WARNING = "white space before the XML declaration was dropped: the feed should start with <?xml"


def starts_as_json(content: bytes) -> bool:
    """Whether the document is JSON by its first character past white space and byte order
    marks (`{` or `[`), in whatever encoding JSON may come (`json.detect_encoding`: RFC 8259's
    byte order mark, else the NULs of the first bytes, else UTF-8)."""
    head = content[:64].decode(json.detect_encoding(content), "ignore")
    return head.lstrip(" \t\r\n\ufeff")[:1] in ("{", "[")


def trim_start(content: bytes) -> tuple[bytes, bool]:
    """The document without what stands before its XML declaration, and whether there was
    any: XML allows nothing there but a byte order mark, yet a blank line or a BOM then a
    newline is common (a web site's plugin or template that prints a newline ahead of the
    feed). A UTF-8 BOM among it is kept in front, where it says the encoding."""
    m = _LEADING_RE.match(content)
    if not m or m.group(0) == codecs.BOM_UTF8 or not re.match(rb"<\?xml\s", content[m.end() : m.end() + 6]):
        return content, False
    bom = codecs.BOM_UTF8 if codecs.BOM_UTF8 in m.group(0) else b""
    return bom + content[m.end() :], True


_HTML_TAG_RE = re.compile(rb"<html[\s/>]")  # the tag, not an `html:` prefix (XHTML in Atom)


def is_html(content: bytes) -> bool:
    """Whether the document is an HTML page (a login wall, an error page) rather than a feed
    or JSON, as servers answer with 200 when something in front of them goes wrong."""
    m = _LEADING_RE.match(content)
    head = content[m.end() if m else 0 :][:2048].lower()
    return head.startswith(b"<!doctype html") or _HTML_TAG_RE.search(head[:200]) is not None


def declares_entities(content: bytes) -> bool:
    """Whether the document declares entities (an internal DTD subset). An external DTD
    reference alone (old RSS 0.91 feeds) is harmless: it is never fetched."""
    return bool(_DTD_RE.search(content.replace(b"\x00", b"")))  # NULs removed: catches UTF-16 too


def crowded_tag(content: bytes) -> bool:
    """Whether some tag carries more than MAX_ATTRIBUTES attributes (50,000 keep feedparser
    busy for minutes)."""
    return _CROWDED_TAG_RE.search(content) is not None


# Why repair before parsing rather than accept some of feedparser's `bozo_exception`s: its strict
# parser stops at the first error, and its loose parser then reads everything, a cut-off end too.
# What it sets (feedparser 6.0): `&nbsp;` -> SAXParseException('undefined entity'); a bare `&` or
# a raw control character -> 'not well-formed (invalid token)'; `&#27;` -> 'reference to invalid
# character number'; a cut feed -> 'unclosed token', 'mismatched tag' or 'no element found'; a
# wrongly declared encoding -> CharacterEncodingOverride (not a SAXException: read). A cut feed
# that also holds an `&nbsp;` reports only 'undefined entity', and the same class covers a bare
# `&` and a cut: the exception cannot tell a flaw from a truncation. After repair, any SAX error
# is a real one.
def repair(content: bytes) -> tuple[bytes, list[str]]:
    """What feedparser reads past, made well-formed, so the strict parser can still check the
    rest of the document (a cut feed stays refused): HTML's named entities (`&nbsp;`,
    `&eacute;`), which XML does not define, as character references, unknown names and bare `&`
    as text, and characters XML forbids (C0 controls, raw or as references) removed. CDATA
    sections keep their entities (the HTML reader decodes them later). Returns the document
    and a warning for each kind of repair; raises TooBroken past MAX_REPAIRS."""
    size = len(content)
    content = content.translate(None, _CONTROLS)
    found = {"controls": size - len(content), "bare": 0, "entities": 0}
    names: dict[str, None] = {}

    def replace(m: re.Match) -> bytes:
        name, number = m.group(1), m.group(2)
        if number is not None:
            digits = number[1:]  # after the '#'
            code = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
            if _xml_char(code):
                return m.group(0)
            kind, text = "controls", b""
        elif name is None:
            kind, text = "bare", b"&amp;"
        else:
            entity = name.decode("ascii")
            names[f"&{entity};"] = None
            decoded = html5.get(f"{entity};")
            kind = "entities"
            text = (
                b"&amp;" + m.group(0)[1:]
                if decoded is None
                else "".join(f"&#{ord(c)};" for c in decoded).encode()
            )
        found[kind] += 1
        if sum(found.values()) > MAX_REPAIRS:
            raise TooBroken(
                f"feed is too broken to read: over {MAX_REPAIRS} bare &, undefined entities or control characters"
            )
        return text

    if found["controls"] > MAX_REPAIRS:
        raise TooBroken(f"feed is too broken to read: over {MAX_REPAIRS} control characters")
    if b"&" in content:
        content = _outside_cdata(content, lambda part: _AMPERSAND_RE.sub(replace, part))
    return content, _warnings(names, found["bare"], found["controls"])


def _outside_cdata(content: bytes, change) -> bytes:
    """`content` with `change` applied to every part outside CDATA sections."""
    out, pos = [], 0
    while True:
        start = content.find(b"<![CDATA[", pos)
        out.append(change(content[pos : len(content) if start < 0 else start]))
        if start < 0:
            return b"".join(out)
        end = content.find(b"]]>", start)
        pos = len(content) if end < 0 else end + 3
        out.append(content[start:pos])


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _warnings(names: dict[str, None], bare: int, controls: int) -> list[str]:
    found = []
    if names:
        shown = ", ".join(list(names)[:5]) + (", ..." if len(names) > 5 else "")
        found.append(
            f"undefined entities read as HTML would ({shown}); the feed should declare or escape them"
        )
    if bare:
        found.append(f"{bare} bare & read as text; the feed should write &amp;")
    if controls:
        found.append(f"{controls} control characters XML does not allow were removed")
    return found
