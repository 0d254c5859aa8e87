"""Feed documents as bytes, before any XML parser sees them: encoding, entity declarations,
HTML entities, and shapes that make parsing explode. Pure functions, each linear in the size."""

from __future__ import annotations

import re
from html.entities import html5

from feedparser.encodings import convert_to_utf8

MAX_ATTRIBUTES = 256  # in one tag; real feeds stay under 30, and feedparser's cost is quadratic in it

_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
# An entity or character reference, or a bare `&` (neither).
_AMPERSAND_RE = re.compile(rb"&(?:([A-Za-z][A-Za-z0-9]{0,31});|(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});)?")
_CONTROL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DTD_RE = re.compile(rb"<!ENTITY|<!DOCTYPE[^>\[]*\[", re.IGNORECASE)
# A tag with MAX_ATTRIBUTES quoted attribute values (`=` then a quote). `>` may stand inside an
# XML attribute value and `<` may not, so a tag runs to the next `<`. Possessive quantifiers
# keep the scan linear whatever the input.
_CROWDED_TAG_RE = re.compile(rb"<(?:(?:[^<=]++|=(?!\s*+[\"']))*+=\s*+[\"']){%d}" % MAX_ATTRIBUTES)


def as_utf8(content: bytes) -> tuple[bytes, str | None]:
    """The document re-encoded as UTF-8 by feedparser's own encoding detection (it understands
    EBCDIC, UTF-7...), and what it had to override, if anything (a wrongly declared encoding)."""
    result: dict = {}
    try:
        converted = convert_to_utf8({}, content, result)
    except Exception:  # undecodable: let the parser say what is wrong with it
        return content, None
    override = result.get("bozo_exception")
    return converted, (f"encoding: {override}" if override else None)


def declares_entities(content: bytes) -> bool:
    """Whether the document declares entities (an internal DTD subset). An external DTD
    reference alone (old RSS 0.91 feeds) is harmless: it is never fetched."""
    return bool(_DTD_RE.search(content.replace(b"\x00", b"")))  # NULs removed: catches UTF-16 too


def crowded_tag(content: bytes) -> bool:
    """Whether some tag carries more than MAX_ATTRIBUTES attributes (50,000 keep feedparser
    busy for minutes)."""
    return _CROWDED_TAG_RE.search(content) is not None


def repair(content: bytes) -> tuple[bytes, list[str]]:
    """What feedparser reads past, made well-formed, so the strict parser can still check the
    rest of the document (a cut feed stays refused): HTML's named entities (`&nbsp;`,
    `&eacute;`), which XML does not define, as character references, unknown names and bare `&`
    as text, and characters XML forbids (C0 controls, raw or as references) removed. CDATA
    sections keep their entities (the HTML reader decodes them later). Returns the document
    and a warning for each kind of repair."""
    content, controls = _CONTROL_RE.subn(b"", content)
    if b"&" not in content:
        return content, _warnings({}, 0, controls)
    names: dict[str, None] = {}
    bare = 0

    def replace(m: re.Match) -> bytes:
        nonlocal bare, controls
        name, number = m.group(1), m.group(2)
        if number is not None:
            digits = number[1:]  # after the '#'
            code = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
            if _xml_char(code):
                return m.group(0)
            controls += 1
            return b""
        if name is None:
            bare += 1
            return b"&amp;"
        text = name.decode("ascii")
        if text in _XML_ENTITIES:
            return m.group(0)
        names[f"&{text};"] = None
        decoded = html5.get(f"{text};")
        if decoded is None:
            return b"&amp;" + m.group(0)[1:]
        return "".join(f"&#{ord(c)};" for c in decoded).encode("ascii")

    out, pos = [], 0
    while True:
        start = content.find(b"<![CDATA[", pos)
        stop = len(content) if start < 0 else start
        out.append(_AMPERSAND_RE.sub(replace, content[pos:stop]))
        if start < 0:
            break
        end = content.find(b"]]>", start)
        end = len(content) if end < 0 else end + 3
        out.append(content[start:end])
        pos = end
    return b"".join(out), _warnings(names, bare, controls)


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
