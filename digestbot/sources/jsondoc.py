"""Reading JSON documents (Hugging Face lists, JSON Feed) as untrusted input: any value may
have any type, numbers any size; what is not as expected is missing, never an exception."""

from __future__ import annotations

import json
from datetime import datetime
from email.utils import parsedate_to_datetime

from .base import SourceError, clean_title, plausible_datetime
from .document import is_html

MAX_COUNT = 2**31 - 1  # a plausible count; anything larger is an error (and overflows SQLite)
_MAX_INT_DIGITS = 18


def _json_int(text: str) -> int | float:
    # Python refuses to convert over 4,300 digits and would fail the whole document: an absurd
    # number becomes a float, which no count accepts.
    return int(text) if len(text) <= _MAX_INT_DIGITS else float("inf")


def load_json(content: bytes) -> object:
    """A JSON document, or SourceError saying why it is not one."""
    if is_html(content):
        raise SourceError("got an HTML page, not JSON (a login or error page? open the url in a browser)")
    try:
        return json.loads(content, parse_int=_json_int)
    except (ValueError, RecursionError) as e:  # RecursionError: nested thousands deep
        raise SourceError(
            f"not JSON: {'nested too deeply' if isinstance(e, RecursionError) else e}"
        ) from None


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
    try:
        return plausible_datetime(datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        return plausible_datetime(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError):
        return None
