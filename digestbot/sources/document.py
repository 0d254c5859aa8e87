"""Feed documents as bytes, before any XML parser sees them: encoding, entity declarations,
HTML entities, and shapes that make parsing explode. Pure functions, each linear in the size."""

from __future__ import annotations

import re
from html.entities import html5

from feedparser.encodings import convert_to_utf8

MAX_ATTRIBUTES = 256  # in one tag; real feeds stay under 30, and feedparser's cost is quadratic in it

_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ENTITY_RE = re.compile(rb"&([A-Za-z][A-Za-z0-9]{0,31});")
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


def replace_html_entities(content: bytes) -> tuple[bytes, list[str]]:
    """HTML's named entities (`&nbsp;`, `&eacute;`), which XML does not define, as character
    references; unknown names as text (`&amp;name;`). CDATA sections are left as they are (the
    HTML reader decodes them later). Returns the document and the names replaced."""
    if b"&" not in content:
        return content, []
    names: dict[str, None] = {}

    def replace(m: re.Match) -> bytes:
        name = m.group(1).decode("ascii")
        if name in _XML_ENTITIES:
            return m.group(0)
        names[f"&{name};"] = None
        text = html5.get(f"{name};")
        if text is None:
            return b"&amp;" + m.group(0)[1:]
        return "".join(f"&#{ord(c)};" for c in text).encode("ascii")

    out, pos = [], 0
    while True:
        start = content.find(b"<![CDATA[", pos)
        stop = len(content) if start < 0 else start
        out.append(_ENTITY_RE.sub(replace, content[pos:stop]))
        if start < 0:
            break
        end = content.find(b"]]>", start)
        end = len(content) if end < 0 else end + 3
        out.append(content[start:end])
        pos = end
    return b"".join(out), list(names)
