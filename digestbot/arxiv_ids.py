"""arXiv identifiers: found in links, guids, DOIs and plain text, returned without version.

New-style ids (`2403.01234v2`) and old-style ones (`hep-th/9901001v1`), in an abstract or PDF
URL, an OAI or `arXiv:` prefix, the DataCite DOI `10.48550/arXiv.2403.01234`, or on their own.
Pure: no I/O.
"""

from __future__ import annotations

import re

_ARXIV_ID_RE = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|oai:arxiv\.org:|arxiv:|10\.48550/arxiv\.|^)\s*"
    r"(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(v\d+)?(?:\.pdf)?(?=$|[?#/\s])",
    re.IGNORECASE,
)


def arxiv_id(*candidates: str | None) -> str | None:
    """The first arXiv id (without version) found in the given strings (links, guids, ids)."""
    for text in candidates:
        if text:
            m = _ARXIV_ID_RE.search(text.strip())
            if m:
                return m.group(1)
    return None
