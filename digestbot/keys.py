"""Paper keys that are not arXiv ids: a feed entry's guid or link, and when it only names the
entry within its feed, the same qualified by the source. Pure: no I/O."""

from __future__ import annotations

import hashlib
import re

from .text import one_line

LOCAL_PREFIX = "guid:"  # `guid:SOURCE:ID`: an id only its own feed gives meaning to
# A key is the papers table's unique index, and PostgreSQL refuses index entries over about
# 2,700 bytes: an id longer than this is shortened to its beginning and its hash.
MAX_ID = 500
_KEPT = 200
_URI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S")  # a scheme, then something (RFC 3986)


def is_uri(ident: str) -> bool:
    """Whether `ident` is an absolute URI (`https://…`, `tag:…`, `urn:uuid:…`), which names the
    same thing in every feed; a bare `12345` or `/posts/1` names something in one feed only."""
    return bool(_URI_RE.match(ident))


def entry_key(source: str, ident: str) -> str:
    """The key of a feed entry identified by `ident` (its guid, else its link): the URI itself,
    else `ident` within `source`, so two feeds numbering their items alike bring two papers;
    either way at most about MAX_ID characters (see `short_id`), on one line: no control
    character, white space as single spaces (what the store keeps, and feeds get wrong)."""
    ident = one_line(ident)
    return short_id(ident) if is_uri(ident) else f"{LOCAL_PREFIX}{source}:{short_id(ident)}"


def short_id(ident: str, limit: int = MAX_ID) -> str:
    """`ident`, or when longer than `limit` its first characters and the SHA-1 of all of it:
    the same id always gives the same key, and any key fits a database index."""
    if len(ident) <= limit:
        return ident
    digest = hashlib.sha1(ident.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{ident[:_KEPT]}#sha1:{digest}"
