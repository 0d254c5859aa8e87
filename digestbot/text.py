"""Text clean-up shared by sources, matching and rendering. Pure functions, no I/O."""

from __future__ import annotations

import codecs
import email.utils
import math
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

# Byte order marks, UTF-32's first: its little-endian mark begins with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32be"),
    (codecs.BOM_UTF32_LE, "utf-32le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
)


def line_at(data: bytes, pos: int) -> int:
    """The 1-based line of byte `pos`, lines ended by "\n", "\r\n" or a bare "\r" (classic Mac)."""
    head = data[:pos]
    return head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1


def bom_encoding(raw: bytes) -> str | None:
    """The encoding a byte order mark at the start of `raw` names, its byte order spelt out
    (decoding with it keeps the mark, as U+FEFF), or None when there is no mark."""
    return next((name for mark, name in _BOMS if raw.startswith(mark)), None)


# TeX accent commands as they appear in arXiv metadata (`Schr\"oder`, `\'{e}`, `{\c c}`),
# mapped to the Unicode combining mark they stand for.
_TEX_ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "c": "\u0327",
    "v": "\u030c",
    "u": "\u0306",
    "H": "\u030b",
    "k": "\u0328",
    "r": "\u030a",
}
_TEX_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "aa": "å",
    "AA": "Å",
    "ae": "æ",
    "AE": "Æ",
    "l": "ł",
    "L": "Ł",
    "oe": "œ",
    "OE": "Œ",
    "i": "ı",
}
# The letter an accent sits on: a plain one, or a dotless i/j (`\"\i`).
_ACCENTED = r"(?P<letter>[A-Za-z]|\\[ij](?![A-Za-z]))"
# What ends a bare control word (`\ss e`, `\"\i ve`): `{}`, or a space where the word goes on.
_WORD_END = r"(?:\{\}|[ \t]+(?=[a-z]))"
# An accent with its argument, optionally wrapped in a group of its own (`{\'e}`), whose closing
# brace is then taken too, and only then. The space after a bare argument (`Andr\'e Lima`) is
# text and is never taken; spaces between a command and its argument belong to the command.
_TEX_ACCENT_RE = re.compile(
    r"(?P<group>\{\s*)?"
    r"(?:\\(?P<sym>[\"'`^~=.])\s*|\\(?P<word>[cvuHkr])(?=[\s{])\s*)"
    rf"(?:\{{\s*{_ACCENTED}\s*\}}|{_ACCENTED.replace('letter', 'bare')}(?:(?<=\\[ij]){_WORD_END})?)"
    r"(?(group)\s*\})"
)
# A special letter: `{\o}`, `\o{}`, or bare `\o`. As in TeX, a space ends a bare control word
# and is taken with it, but only where a word goes on (`Stra\ss e`, `S\o ren`): before a
# capital or anything else (`Micha\l Nowak`) it is read as the space between two words.
_TEX_LETTER_RE = re.compile(
    r"(?P<group>\{\s*)?\\(?P<name>ss|aa|AA|ae|AE|oe|OE|o|O|l|L|i)(?![A-Za-z])"
    rf"(?(group)\s*\}}|{_WORD_END}?)"
)

# Characters that must never reach a header or a one-line field: C0/C1 controls, line and
# paragraph separators, zero-width and bidirectional controls (used to disguise text), and lone
# surrogates (JSON can carry them; no database or mail can).
_CONTROLS = (  # as a regular expression's class, the zero-width (non-)joiners left out
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb\ud800-\udfff"
)
_CONTROL_RE = re.compile(f"[{_CONTROLS}\u200c\u200d]")
# The joiners (ZWNJ, ZWJ) spell Persian and Hindi words and emoji sequences (woman + ZWJ +
# microscope): `one_line` keeps one inside a word, and drops one beside a space or at an end
# (_LONE_JOINERS_RE), where it joins nothing.
_CONTROL_BUT_JOINERS_RE = re.compile(f"[{_CONTROLS}]")
_LONE_JOINERS_RE = re.compile(r"(?<!\S)[\u200c\u200d]+|[\u200c\u200d]+(?!\S)")
_SPACE_RE = re.compile(r"\s+")
# A sentence ends at `.`, `!` or `?` before a space, or at the full-width stops of Chinese and
# Japanese, which no space follows.
_SENTENCE_END_RE = re.compile(r"[.!?](?=\s)|[\u3002\uff01\uff1f]")
ELLIPSIS = " …"  # what `shorten` appends


def detex(text: str) -> str:
    """Turn TeX accents and special letters into Unicode (`Schr\\"oder` -> `Schröder`)."""
    if "\\" not in text:
        return text

    def accent(m: re.Match) -> str:
        letter = (m.group("letter") or m.group("bare")).lstrip("\\")
        mark = _TEX_ACCENTS[m.group("sym") or m.group("word")]
        return unicodedata.normalize("NFC", letter + mark)

    text = _TEX_ACCENT_RE.sub(accent, text)
    return _TEX_LETTER_RE.sub(lambda m: _TEX_LETTERS[m.group("name")], text)


def one_line(text: str) -> str:
    """Collapse all white space and drop control characters: safe for titles and headers. A
    zero-width (non-)joiner inside a word stays: words of some scripts are spelled with one."""
    text = _CONTROL_BUT_JOINERS_RE.sub(" ", text)
    if "\u200c" in text or "\u200d" in text:
        text = _LONE_JOINERS_RE.sub(" ", text)
    return _SPACE_RE.sub(" ", text).strip()


MAX_MARKS = 8  # combining marks on one letter that are shown: no script needs more than a few
_MARKS_RE = re.compile(
    rf"[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]{{{MAX_MARKS + 1},}}"
)


def tame_marks(text: str) -> str:
    """`text` with at most MAX_MARKS combining marks (of the blocks that only hold such marks)
    in a row: dozens on each letter ("zalgo" text) are drawn stacked far above and below the
    line, over whatever is near, while no writing stacks more than a few."""
    return _MARKS_RE.sub(lambda m: m.group()[:MAX_MARKS], text) if not text.isascii() else text


_LINE_BREAK_RE = re.compile(r"[\t\n\r]")
_JOINERS = "\u200c\u200d"  # zero-width (non-)joiners: part of how Persian or Hindi words are spelled


def invisible_character(text: str) -> str | None:
    """The first control, zero-width or direction character in `text` (tabs and line breaks
    included: a one-line field has none), or None: what `one_line` would remove, but for the
    joiners that some scripts spell words with."""
    for found in (*_CONTROL_RE.finditer(text), *_LINE_BREAK_RE.finditer(text)):
        if found.group() not in _JOINERS:
            return found.group()
    return None


def invisible_problem(text: str) -> str | None:
    """What to tell a person whose entry holds an `invisible_character`, or None."""
    char = invisible_character(text)
    if char is None:
        return None
    return f"holds a control or invisible formatting character (U+{ord(char):04X}): remove it"


def single_spaced(text: str) -> str:
    """White space (tabs, line breaks, line separators) as one space, none at the ends: how a
    keyword typed anywhere is kept, since matching reads it so anyway."""
    return " ".join(text.split())


def split_terms(text: str) -> list[str]:
    """`a, "b c", "Levine, Sergey", d*` -> ['a', 'b c', 'Levine, Sergey', 'd*']: commas separate,
    but inside double quotes ("..." or “...”), which are otherwise optional. A quote left open
    quotes nothing: every comma separates then."""
    pieces, piece, closing = [], [], None
    for char in text:
        if closing is not None:
            closing = None if char == closing else closing
            piece.append(char)
        elif char == ",":
            pieces.append("".join(piece))
            piece = []
        else:
            closing = _CLOSING_QUOTE.get(char)
            piece.append(char)
    pieces.append("".join(piece))
    if closing is not None:
        pieces = text.split(",")
    terms = [single_spaced(t).strip("\"'“”‘’").strip() for t in pieces]
    return [t for t in terms if t]


_CLOSING_QUOTE = {'"': '"', "“": "”"}


def join_terms(terms: Iterable[str]) -> str:
    """The text `split_terms` reads back as `terms`: an entry with a comma in quotes."""
    return ", ".join(f'"{t}"' if "," in t else t for t in terms)


def clean_paragraphs(text: str) -> str:
    """Drop control characters and collapse white space, keeping blank-line paragraph breaks."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n"))
    return "\n\n".join(p for p in (one_line(p) for p in paragraphs) if p)


def shorten(text: str, limit: int) -> str:
    """Cut `text` at the last sentence end within `limit` characters (else between two words),
    adding …. Chinese and Japanese put no space between words: a cut may fall beside any of
    their characters, not only at a space (a Chinese abstract with one English word in it was
    cut there, after a few characters)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    # a stop at the very end of `head` ends a sentence only if a space follows it in `text`
    # (`https://github.` or `92.` of 92.5 ends none)
    ends = [m.end() for m in _SENTENCE_END_RE.finditer(head + text[limit])]
    if ends and ends[-1] >= limit // 3:
        return head[: ends[-1]].rstrip() + ELLIPSIS
    wide = text[limit] == " " or _wide(text[limit - 1]) or _wide(text[limit])  # a break at the limit itself
    cut = head if wide else head[: _last_break(head)] or head
    return cut.rstrip(" ,;:\u3001\uff0c\uff1b\uff1a\u200c\u200d") + ELLIPSIS  # a joiner joins nothing there


def _wide(char: str) -> bool:
    """A character of a script that writes no spaces (East Asian wide or full-width)."""
    return unicodedata.east_asian_width(char) in ("W", "F")


def _last_break(head: str) -> int:
    """Where the last word of `head` starts (a space, or beside a wide character); 0: none."""
    for i in range(len(head) - 1, 0, -1):
        if head[i] == " " or _wide(head[i]) or _wide(head[i - 1]):
            return i
    return 0


def wrap(text: str, width: int = 76, indent: str = "") -> str:
    """Greedy word wrap at `width` columns (long words and URLs are never broken), each line
    after the first indented. Chinese and Japanese write no spaces: a line also breaks beside
    their characters (each two columns wide), never before a closing mark (`，` `。`). A plain
    loop: several times faster than textwrap, and digests wrap a lot of text."""
    lines = _ascii_lines(text, width) if text.isascii() else _lines(text, width)
    return ("\n" + indent).join(lines)


def _ascii_lines(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def _lines(text: str, width: int) -> list[str]:
    lines, line, used = [], "", 0
    for word in text.split():
        for i, unit in enumerate(_units(word)):
            size = len(unit) if unit.isascii() else _columns(unit)
            gap = 1 if line and i == 0 else 0  # a space between words, none inside one
            if line and used + gap + size > width:
                lines.append(line)
                line, used = unit, size
            else:
                line, used = f"{line}{' ' * gap}{unit}", used + gap + size
    return [*lines, line] if line else lines


# Marks a line must not start with (UAX #14's closing punctuation, the common ones): they stay
# with the character before them.
_NO_LINE_START = frozenset("、。，．：；！？）」』】〉》〕〗…‥・ー々,.;:!?)]}")


def _units(word: str) -> list[str]:
    """A word as the pieces a line may break between: one, unless it holds wide characters,
    each of which is then a piece of its own (with any closing marks after it)."""
    if word.isascii() or not any(_wide(c) for c in word):
        return [word]
    units: list[str] = []
    after_wide = False
    for char in word:
        wide = _wide(char)
        joins = units and (not (wide or after_wide) or char in _NO_LINE_START or unicodedata.combining(char))
        if joins:
            units[-1] += char
        else:
            units.append(char)
        after_wide = wide or (after_wide and bool(unicodedata.combining(char)))
    return units


def _columns(text: str) -> int:
    """The columns `text` takes in a terminal: two for a wide character, none for a mark."""
    return sum(0 if unicodedata.combining(c) else 2 if _wide(c) else 1 for c in text)


def is_number(text: str) -> bool:
    """Whether `text` is a whole number written in ASCII digits. `str.isdigit` alone also takes
    superscripts and circled digits (`²`, `①`), which int() refuses with an exception."""
    return text.isascii() and text.isdigit()


_UNSAFE_URL_RE = re.compile(
    r"[\s\"'<>\\^`{|}\x00-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def safe_url(url: str | None, https_only: bool = False) -> str:
    """Only plain http(s) links (https only if asked) are shown or kept; anything else
    (javascript:, data:, a link with white space, quotes, control or bidi characters, a
    backslash that browsers read as a slash, a host that does not parse) becomes empty."""
    url = (url or "").strip()
    schemes = ("https://",) if https_only else ("http://", "https://")
    if not url.lower().startswith(schemes) or _UNSAFE_URL_RE.search(url):
        return ""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return ""
    return url if host else ""


def idna_domain(domain: str) -> str:
    """A domain in IDNA (`exämple.org` -> `xn--exmple-cua.org`): each label outside ASCII as
    Punycode, as browsers write it. (Python's `idna` codec is IDNA 2003, which maps `faß.de` to
    another host, `fass.de`, and refuses some names outright.)"""
    if domain.isascii():
        return domain
    labels = unicodedata.normalize("NFC", domain.lower()).split(".")
    return ".".join(x if x.isascii() else "xn--" + x.encode("punycode").decode("ascii") for x in labels)


_LDH_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")  # RFC 1123: letters, digits, hyphens
_TOP_LEVEL_RE = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")  # `org`, or IDNA's `xn--p1ai` (рф)


def host_name(domain: str) -> str | None:
    """A domain as DNS takes it (`Département.uni.example` -> `xn--dpartement-b7a.uni.example`),
    or None when it is no host name in either spelling: a label empty, longer than 63, edged
    with a hyphen or holding anything but letters (of any script), digits and hyphens, a label
    `xn--…` that is no Punycode, or a top level that is not letters (in ASCII or IDNA)."""
    domain = unicodedata.normalize("NFC", domain).lower()
    labels = domain.split(".")
    if len(labels) < 2 or not all(label.isascii() or _letters(label) for label in labels):
        return None
    ascii_host = idna_domain(domain)
    ascii_labels = ascii_host.split(".")
    if (
        len(ascii_host) > 253
        or not all(_LDH_LABEL_RE.match(label) and _punycode(label) is not None for label in ascii_labels)
        or not _TOP_LEVEL_RE.match(ascii_labels[-1])
    ):
        return None
    return ascii_host


def unicode_host(domain: str) -> str:
    """A host name with its IDNA labels as the letters they stand for (`xn--mller-kva.example`
    -> `müller.example`), lower case: one domain, one spelling, for addresses kept and shown."""
    return ".".join(_punycode(label) or label for label in domain.lower().split("."))


def _letters(label: str) -> bool:
    return all(c == "-" or unicodedata.category(c)[0] in "LMN" for c in label)


def _punycode(label: str) -> str | None:
    """What an `xn--` label stands for (None when it is no Punycode); any other label itself."""
    if not label.startswith("xn--"):
        return label
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return None
    return decoded if decoded and not decoded.isascii() and _letters(decoded) else None


def idna_url(url: str) -> str:
    """An http(s) URL with its host in IDNA: what a browser really opens, and what shows a
    look-alike host (`аrxiv.org` with a Cyrillic а) for what it is."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host, colon, port = hostport.partition(":")  # a host outside ASCII is no IPv6 literal
    if host.isascii():
        return url
    return parts._replace(netloc=f"{userinfo}{at}{idna_domain(host)}{colon}{port}").geturl()


def split_url(url: str) -> tuple[str, str | None, str]:
    """`scheme://userinfo@host...` into its three parts, by hand: the user info is everything
    up to the *last* `@`, so a password holding an unencoded `/`, `?`, `#` or `@` is never taken
    for the host, a path or a fragment (as urlsplit would)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" not in rest:
        return scheme.lower(), None, rest
    userinfo, _, hostport = rest.rpartition("@")
    return scheme.lower(), userinfo, hostport


# libpq also takes the password as a query parameter: postgresql://u@host/db?password=...
_QUERY_PASSWORD_RE = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def mask_url(url: str | None) -> str:
    """A URL with any password replaced by *** (for logs and `status`), whatever it looks like:
    in the user info, and as a `password=` query parameter."""
    if not url:
        return ""
    url = _QUERY_PASSWORD_RE.sub(r"\1***", url)  # first: its value may hold an `@`
    scheme, userinfo, hostport = split_url(url)
    if userinfo is None:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme + '://' if scheme else ''}{user}{':***' if colon else ''}@{hostport}"


def url_secrets(url: str) -> list[str]:
    """The passwords a URL holds, as written and %-decoded, longest first: what must be taken
    out of any message that may repeat them (a driver's error quoting what it could not read)."""
    found = [m.group(2) for m in _QUERY_PASSWORD_RE.finditer(url)]
    _, userinfo, _ = split_url(_QUERY_PASSWORD_RE.sub(r"\1", url))
    if userinfo is not None and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    found += [unquote(f) for f in found]
    return sorted({f for f in found if f}, key=len, reverse=True)


_LONGEST_RETRY_AFTER = 10**9  # seconds (31 years): any longer is the same, and a date cannot hold it


def retry_seconds(value: str | None, now: datetime | None = None) -> int | None:
    """A Retry-After header (seconds, or an HTTP date) as whole seconds from now, if it reads;
    a fraction (`1.5`, which some APIs send) is rounded up."""
    value = (value or "").strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", value):  # ASCII digits only: `²` is a digit to str.isdigit
        return min(math.ceil(float(value[:16])), _LONGEST_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0, int((when - (now or datetime.now(UTC))).total_seconds()))
