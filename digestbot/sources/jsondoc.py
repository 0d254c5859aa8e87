"""Reading JSON documents (Hugging Face lists, JSON Feed) as untrusted input: any value may
have any type, numbers any size; what is not as expected is missing, never an exception."""

from __future__ import annotations

import json
import re
from datetime import datetime
from email.utils import parsedate_to_datetime

from feedparser.encodings import parse_content_type

from .base import SourceError, clean_title, plausible_datetime, zoned_datetime
from .document import is_html

MAX_COUNT = 2**31 - 1  # a plausible count; anything larger is an error (and overflows SQLite)
_MAX_INT_DIGITS = 18


def _json_int(text: str) -> int | float:
    # Python refuses to convert over 4,300 digits and would fail the whole document: an absurd
    # number becomes a float, which no count accepts.
    return int(text) if len(text) <= _MAX_INT_DIGITS else float("inf")


def load_json(content: bytes, content_type: str = "") -> object:
    """A JSON document, or SourceError saying why it is not one. `content_type`: the server's
    Content-Type, whose charset is read where the bytes are not UTF-8 (see `json_text_of`)."""
    if is_html(content):
        raise SourceError("got an HTML page, not JSON (a login or error page? open the url in a browser)")
    text = json_text_of(content, content_type)
    try:
        return json.loads(text, parse_int=_json_int)
    except (ValueError, RecursionError) as e:  # RecursionError: nested thousands deep
        raise SourceError(
            f"not JSON: {'nested too deeply' if isinstance(e, RecursionError) else e}"
        ) from None


def json_text_of(content: bytes, content_type: str = "") -> str:
    """The document as text. JSON tells its encoding (RFC 8259, 4627): a byte order mark, else
    the NULs of its first bytes (UTF-16, UTF-32), else UTF-8; bytes that are not UTF-8 are read
    in the server's charset (`charset=iso-8859-1`), if it names one they decode in."""
    encoding = json.detect_encoding(content)
    try:
        return content.decode(encoding)
    except UnicodeDecodeError as e:
        failed = e
    charset = parse_content_type(content_type)[1] if content_type else ""
    if charset and encoding.startswith("utf-8"):
        try:
            return content.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    if not charset:
        said = "and the server names no charset"
    else:  # named only when it reads as a name: the header is the server's text
        said = (
            f"nor {charset}, as the server says"
            if re.fullmatch(r"[\w.:-]{1,40}", charset)
            else "nor in the server's charset"
        )
    raise SourceError(
        f"not JSON: not {encoding.upper().removesuffix('-SIG')} text (byte 0x{content[failed.start]:02x} at"
        f" offset {failed.start}), {said}"
    )


def count(value: object) -> int | None:
    """A count (upvotes, comments) when it is a plausible one: an int from 0 to 2^31 - 1."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def json_text(value: object) -> str:
    """A JSON value as text when it is a string; anything else is missing."""
    return value if isinstance(value, str) else ""


def json_names(value: object) -> tuple[str, ...]:
    """Author names from a JSON list of `{"name": ...}` objects, cleaned; anything else is skipped."""
    if not isinstance(value, list):
        return ()
    names = (clean_title(a["name"]) for a in value if isinstance(a, dict) and isinstance(a.get("name"), str))
    return tuple(n for n in names if n)


def json_datetime(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 date from JSON (whose `t` and `z` may be lowercase), or an RFC 822
    one written by mistake (as RSS has them), if it is a plausible one."""
    if not isinstance(value, str):
        return None
    if (when := zoned_datetime(value)) is not None:
        return when
    try:
        return plausible_datetime(datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return plausible_datetime(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None
