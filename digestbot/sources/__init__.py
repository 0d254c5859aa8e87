"""Sources: one parser per source type, all fed by the same fetching code."""

from __future__ import annotations

from collections.abc import Callable

from ..config import SourceConfig
from .arxiv import api_params, parse_arxiv_api, parse_arxiv_rss
from .base import FetchResult, SourceError
from .hf import parse_hf_daily
from .http import Fetched, FetchError, FetchStopped, HttpClient, read_file
from .rss import parse_rss

PARSERS: dict[str, Callable[[SourceConfig, Fetched], FetchResult]] = {
    "rss": parse_rss,
    "arxiv_rss": parse_arxiv_rss,
    "arxiv_api": parse_arxiv_api,
    "hf_daily": parse_hf_daily,
}


def fetch_source(
    source: SourceConfig, client: HttpClient, etag: str | None = None, last_modified: str | None = None
) -> FetchResult:
    """Fetch and parse one source. Raises SourceError with a reason fit for the log and `status`."""
    try:
        if source.path is not None:
            fetched = read_file(source.path, client.max_bytes)
        else:
            params = None
            if source.type == "arxiv_api":
                params = api_params(source)
            elif source.type == "hf_daily" and source.date:
                params = {"date": source.date}
            accept = "application/json" if source.type == "hf_daily" else None
            fetched = client.get(
                source.url or "",
                params=params,
                etag=etag,
                last_modified=last_modified,
                deadline=source.timeout,
                **({"accept": accept} if accept else {}),
            )
    except FetchStopped:
        raise  # not the source's doing: the caller records nothing
    except FetchError as e:
        raise SourceError(str(e), e.retry_after) from None
    if fetched.not_modified:
        result = FetchResult([], fetched.etag, fetched.last_modified, not_modified=True)
    else:
        result = PARSERS[source.type](source, fetched)
    if fetched.moved:
        # The url is the user's, in the YAML: said, not rewritten (a redirect may be a mistake).
        url, status = fetched.moved
        result.warnings.append(f"moved permanently to {url} (HTTP {status}): put that in the source's url:")
    return result


__all__ = ["FetchResult", "FetchStopped", "HttpClient", "SourceError", "fetch_source"]
