"""Sources: one parser per source type, all fed by the same fetching code."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    params: dict | None = None  # what digestbot adds to the url's query
    try:
        if source.path is not None:
            fetched = read_file(source.path, client.max_bytes)
        else:
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
        try:
            result = PARSERS[source.type](source, fetched)
        except SourceError as e:
            raise SourceError(f"{e}{redirected_to(source.url, fetched.url)}", e.retry_after) from None
    if fetched.moved:
        # The url is the user's, in the YAML: said, not rewritten (a redirect may be a mistake).
        url, status = fetched.moved
        url = without_params(url, params) if params else url
        result.warnings.append(f"moved permanently to {url} (HTTP {status}): put that in the source's url:")
    return result


def redirected_to(asked: str | None, final: str | None) -> str:
    """` (redirected to URL)`, without its query, when the answer came from another page than
    the one asked (a login page, a captive portal): else ""."""
    if not asked or not final:
        return ""
    a, f = urlsplit(asked), urlsplit(final)
    if (a.hostname, a.path.rstrip("/")) == (f.hostname, f.path.rstrip("/")):
        return ""
    return f" (redirected to {f.scheme}://{f.netloc}{f.path})"  # `final` holds no password (Fetched.url)


def without_params(url: str, params: dict) -> str:
    """`url` without the query parameters digestbot added to it (`params`): what a source's
    `url:` should say. Parameters the url had of its own stay."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode(query)))


__all__ = ["FetchResult", "FetchStopped", "HttpClient", "SourceError", "fetch_source"]
