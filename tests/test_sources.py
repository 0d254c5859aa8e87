"""Sources: real feed fixtures served over HTTP (with `responses`), parsed into Papers.

Every HttpClient here gets a fake clock and a fake sleep, so arXiv's 3-second pace is checked
without any real waiting, and `responses` refuses any request not registered (no network).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from digestbot import collect
from digestbot.config import SourceConfig
from digestbot.models import Paper
from digestbot.sources import HttpClient, SourceError, fetch_source
from digestbot.sources.http import FetchError
from digestbot.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
RSS_URL = "https://rss.arxiv.org/rss/cs.LG"
BAD_RSS_URL = "https://rss.arxiv.org/rss/cs.XYZ"
API_URL = "https://export.arxiv.org/api/query"
HF_URL = "https://huggingface.co/api/daily_papers"
BLOG_URL = "https://blog.example.org/feed.xml"
NOTES_URL = "https://notes.example.net/feed.atom"

ARXIV_RSS_AUTHORS = ("Lukas Schr\u00f6der", "Zo\u00eb M\u00fcller", "Jos\u00e9 N\u00fa\u00f1ez")


# --- helpers ------------------------------------------------------------------------------


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def source(kind: str, url: str | None = None, name: str | None = None, **kwargs) -> SourceConfig:
    """A SourceConfig as parse_config would build it (an http URL unless `path` is given)."""
    return SourceConfig(
        name=name or kind.replace("_", "-"),
        type=kind,
        url=url,
        path=kwargs.pop("path", None),
        every=3600,
        **kwargs,
    )


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(clock: FakeClock | None = None, **kwargs) -> HttpClient:
    clock = clock or FakeClock()
    return HttpClient(clock=clock, sleep=clock.sleep, **kwargs)


def serve(http: responses.RequestsMock, url: str, fixture: str, status: int = 200, **kwargs) -> None:
    http.get(url, body=fixture_bytes(fixture), status=status, **kwargs)


def fetch(http: responses.RequestsMock, src: SourceConfig, fixture: str, status: int = 200) -> list[Paper]:
    """Serve `fixture` at the source's URL and fetch it; the parsed papers."""
    serve(http, src.url, fixture, status)
    return fetch_source(src, make_client()).papers


def by_key(papers: list[Paper]) -> dict[str, Paper]:
    return {p.key: p for p in papers}


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "db.sqlite") as s:
        yield s


# --- arXiv RSS ----------------------------------------------------------------------------


def test_arxiv_rss_keys_are_ids_without_version(http):
    papers = fetch(http, source("arxiv_rss", RSS_URL), "arxiv_rss_cs_lg.xml")
    assert [p.key for p in papers] == [
        "arxiv:2403.20001",
        "arxiv:2403.20002",
        "arxiv:2403.20003",
        "arxiv:2403.20004",
    ]
    assert [p.arxiv_id for p in papers] == ["2403.20001", "2403.20002", "2403.20003", "2403.20004"]
    assert all(p.sources == ("arxiv-rss",) for p in papers)


def test_arxiv_rss_abstract_loses_the_announce_prefix(http):
    papers = fetch(http, source("arxiv_rss", RSS_URL), "arxiv_rss_cs_lg.xml")
    first = papers[0]
    assert first.abstract.startswith("Humans often acquire new skills through observation and imitation.")
    assert first.abstract.endswith("including those that are unsolvable by them.")
    for p in papers:
        assert "Announce Type" not in p.abstract
        assert "Abstract:" not in p.abstract
        assert not p.abstract.startswith("arXiv:")


def test_arxiv_rss_authors_split_and_tex_accent_decoded(http):
    papers = by_key(fetch(http, source("arxiv_rss", RSS_URL), "arxiv_rss_cs_lg.xml"))
    # dc:creator reads `Lukas Schr\"oder, Zoë Müller, José Núñez`: TeX decoded, Unicode kept.
    assert papers["arxiv:2403.20001"].authors == ARXIV_RSS_AUTHORS
    assert papers["arxiv:2403.20002"].authors == ("S\u00f8ren \u00c5berg", "Amara Okafor")
    assert papers["arxiv:2403.20003"].authors == (
        "Chen Wei",
        "Priya Sharma",
        "Olusegun Adeyemi",
        "Elena Rossi",
    )


def test_arxiv_rss_categories_announce_types_and_urls(http):
    papers = by_key(fetch(http, source("arxiv_rss", RSS_URL), "arxiv_rss_cs_lg.xml"))
    assert papers["arxiv:2403.20001"].categories == ("cs.LG", "cs.AI", "cs.RO")
    assert papers["arxiv:2403.20004"].categories == ("cs.RO", "cs.LG")
    assert [p.announce_type for p in papers.values()] == ["new", "new", "new", "cross"]
    p = papers["arxiv:2403.20001"]
    assert p.link == "https://arxiv.org/abs/2403.20001"
    assert p.pdf_url == "https://arxiv.org/pdf/2403.20001"
    assert p.published == datetime(2024, 3, 14, 4, 0, tzinfo=UTC)
    assert p.title == "Imitation Learning from Observation with Automatic Discount Scheduling"
    assert papers["arxiv:2403.20003"].title.startswith("$S^3$: Social-network Simulation System")


def test_arxiv_rss_default_announce_filter_skips_replacements(http):
    src = source("arxiv_rss", RSS_URL)
    assert src.announce == ("new", "cross")
    serve(http, RSS_URL, "arxiv_rss_cs_lg.xml")
    result = fetch_source(src, make_client())
    keys = {p.key for p in result.papers}
    assert "arxiv:2401.00077" not in keys
    assert "arxiv:2403.20006" not in keys
    assert sorted(result.skipped) == [
        "2401.00077: announce type replace",
        "2403.20006: announce type replace-cross",
    ]


def test_arxiv_rss_announce_setting_keeps_replace(http):
    src = source("arxiv_rss", RSS_URL, announce=("new", "cross", "replace"))
    papers = by_key(fetch(http, src, "arxiv_rss_cs_lg.xml"))
    assert len(papers) == 5
    assert "arxiv:2403.20006" not in papers  # replace-cross is still not asked for
    replaced = papers["arxiv:2401.00077"]
    assert replaced.announce_type == "replace"
    # The XML says `Search &amp; Learning`: one plain ampersand, no entity left over.
    assert replaced.title == (
        "Scaling of Search & Learning: A Roadmap to Reproduce o1 from Reinforcement Learning Perspective"
    )
    # The guid carries v3; the key and URLs do not.
    assert replaced.arxiv_id == "2401.00077"
    assert replaced.link == "https://arxiv.org/abs/2401.00077"
    assert replaced.pdf_url == "https://arxiv.org/pdf/2401.00077"
    assert replaced.authors[3] == "Tom\u00e1s Ferreira"


def test_arxiv_rss_weekend_feed_is_empty_not_an_error(http, store):
    serve(http, RSS_URL, "arxiv_rss_weekend.xml")
    outcome = collect.fetch_one(store, source("arxiv_rss", RSS_URL), make_client())
    assert outcome.ok
    assert (outcome.new, outcome.known, outcome.skipped) == (0, 0, 0)
    assert store.count_papers() == 0
    assert store.source_state("arxiv-rss")["failures"] == 0


def test_arxiv_rss_bad_category_is_a_source_error_naming_the_feed_error(http):
    serve(http, BAD_RSS_URL, "arxiv_rss_bad_category.xml", status=400)
    with pytest.raises(SourceError) as info:
        fetch_source(source("arxiv_rss", BAD_RSS_URL), make_client())
    assert "Feed error for query" in str(info.value)
    assert "cs.XYZ" in str(info.value)


# --- arXiv export API ---------------------------------------------------------------------


def api_source(**kwargs) -> SourceConfig:
    return source("arxiv_api", API_URL, query="cat:cs.LG", max_results=10, **kwargs)


def test_arxiv_api_papers(http):
    papers = fetch(http, api_source(), "arxiv_api.atom")
    assert [p.key for p in papers] == [
        "arxiv:2403.20001",
        "arxiv:2403.20101",
        "arxiv:2403.20102",
        "arxiv:2403.20103",
    ]
    p = by_key(papers)["arxiv:2403.20001"]
    assert p.authors == ARXIV_RSS_AUTHORS  # the affiliation is not mistaken for an author
    assert p.link == "https://arxiv.org/abs/2403.20001"  # the id says v2
    assert p.pdf_url == "https://arxiv.org/pdf/2403.20001"
    assert p.published == datetime(2024, 3, 13, 17, 59, 59, tzinfo=UTC)


def test_arxiv_api_title_and_abstract_white_space_collapsed(http):
    papers = by_key(fetch(http, api_source(), "arxiv_api.atom"))
    assert papers["arxiv:2403.20101"].title == (
        "Reason for Future, Act for Now: A Principled Framework for Autonomous LLM Agents"
        " with Provable Sample Efficiency"
    )
    for p in papers.values():
        assert "\n" not in p.title and "  " not in p.title
        # Hard-wrapped summaries with leading spaces become one clean paragraph.
        assert "\n" not in p.abstract and "  " not in p.abstract
        assert p.abstract == p.abstract.strip()
    assert papers["arxiv:2403.20001"].abstract.startswith(
        "Humans often acquire new skills through observation and imitation. For robotic agents, learning"
    )


def test_arxiv_api_primary_category_first(http):
    papers = by_key(fetch(http, api_source(), "arxiv_api.atom"))
    assert papers["arxiv:2403.20102"].categories == ("cs.RO", "cs.LG")
    assert papers["arxiv:2403.20103"].categories == ("cs.LG", "stat.ML")
    assert papers["arxiv:2403.20001"].categories == ("cs.LG", "cs.AI", "cs.RO")
    assert papers["arxiv:2403.20102"].authors == (
        "Mateo Garc\u00eda",
        "Ingrid Lindqvist",
        "Kwame Mensah",
        "Yuki Nakamura",
    )


@pytest.mark.parametrize("status", [200, 400])
def test_arxiv_api_error_entry_is_a_source_error(http, status):
    serve(http, API_URL, "arxiv_api_error.atom", status=status)
    with pytest.raises(SourceError, match="incorrect id format for 1234"):
        fetch_source(api_source(), make_client())


def test_arxiv_api_request_carries_the_query(http):
    fetch(http, api_source(), "arxiv_api.atom")
    url = urlsplit(http.calls[0].request.url)
    assert (url.hostname, url.path) == ("export.arxiv.org", "/api/query")
    params = parse_qs(url.query)
    assert params["search_query"] == ["cat:cs.LG"]
    assert params["max_results"] == ["10"]
    assert params["start"] == ["0"]


def test_arxiv_api_requests_are_paced_three_seconds_apart(http):
    clock = FakeClock(start=500.0)
    sent_at: list[float] = []

    def answer(request):
        sent_at.append(clock.now)
        return 200, {}, fixture_bytes("arxiv_api.atom")

    http.add_callback(responses.GET, API_URL, callback=answer)
    client = make_client(clock)
    fetch_source(api_source(), client)
    clock.now += 1.0  # the first response took a second to parse
    fetch_source(api_source(), client)
    assert clock.sleeps == [pytest.approx(2.0)]
    assert sent_at[1] - sent_at[0] == pytest.approx(3.0)
    fetch_source(api_source(), client)  # straight after: a full 3 s wait
    assert clock.sleeps[-1] == pytest.approx(3.0)
    assert len(http.calls) == 3


def test_pacing_is_per_host(http):
    clock = FakeClock()
    client = make_client(clock)
    serve(http, API_URL, "arxiv_api.atom")
    serve(http, HF_URL, "hf_daily.json")
    fetch_source(api_source(), client)
    fetch_source(source("hf_daily", HF_URL), client)
    fetch_source(source("hf_daily", HF_URL), client)
    assert clock.sleeps == []


# --- Hugging Face daily papers ------------------------------------------------------------


def test_hf_daily_papers_keyed_by_arxiv_id_with_upvotes(http):
    papers = fetch(http, source("hf_daily", HF_URL), "hf_daily.json")
    assert {p.key: p.upvotes for p in papers} == {
        "arxiv:2403.20001": 42,
        "arxiv:2403.20201": 87,
        "arxiv:2403.20202": 23,
        "arxiv:2403.20203": 9,
    }
    p = by_key(papers)["arxiv:2403.20001"]
    assert p.arxiv_id == "2403.20001"
    assert p.authors == ARXIV_RSS_AUTHORS
    assert p.link == "https://arxiv.org/abs/2403.20001"
    assert p.published == datetime(2024, 3, 13, 17, 59, 59, tzinfo=UTC)
    assert "\n" not in by_key(papers)["arxiv:2403.20202"].abstract  # hard wraps collapsed


def test_hf_daily_asks_for_json_and_passes_the_date(http):
    fetch(http, source("hf_daily", HF_URL, date="2024-03-14"), "hf_daily.json")
    request = http.calls[0].request
    assert parse_qs(urlsplit(request.url).query) == {"date": ["2024-03-14"]}
    assert request.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (fixture_bytes("hf_daily.json")[:700], "not JSON"),
        (b"<html><body>Bad gateway</body></html>", "not JSON"),
        (json.dumps({"error": "Invalid date"}).encode(), "JSON array"),
    ],
    ids=["cut-short", "html", "object"],
)
def test_hf_daily_rejects_what_is_not_a_json_array(http, body, message):
    http.get(HF_URL, body=body)
    with pytest.raises(SourceError, match=message):
        fetch_source(source("hf_daily", HF_URL), make_client())


# --- generic RSS and Atom -----------------------------------------------------------------


def test_generic_rss_feed(http):
    papers = fetch(http, source("rss", BLOG_URL, name="blog"), "generic_rss.xml")
    assert [p.key for p in papers] == [
        "https://blog.example.org/2024/03/reading-group-diffusion-policies",
        "https://blog.example.org/2024/03/what-matters-in-offline-rl-datasets",
        "tag:blog.example.org,2024:post-0042",  # a guid that is not a permalink still keys
    ]
    third = papers[2]
    assert third.link == "https://blog.example.org/2024/03/learning-to-act-from-videos"
    assert third.authors == ("Zo\u00eb M\u00fcller",)
    assert third.arxiv_id is None and third.pdf_url == ""
    assert third.published == datetime(2024, 3, 1, 8, 15, tzinfo=UTC)
    assert papers[0].title == (
        "Reading group: Goal-Conditioned Imitation Learning using Score-based Diffusion Policies"
    )


def test_generic_rss_descriptions_lose_their_html(http):
    papers = fetch(http, source("rss", BLOG_URL, name="blog"), "generic_rss.xml")
    for p in papers:  # one description is CDATA, two are entity-escaped HTML
        for markup in ("<p>", "<em>", "<a ", "&lt;", "&gt;", "href="):
            assert markup not in p.abstract
        assert p.abstract.startswith("This week we read ")
        assert p.abstract.endswith("Read the full notes")
    assert papers[1].abstract.startswith(
        "This week we read A Dataset Perspective on Offline Reinforcement Learning.\n\nThe application"
    )


def test_generic_atom_feed(http):
    papers = fetch(http, source("rss", NOTES_URL, name="notes"), "generic_atom.xml")
    assert [p.key for p in papers] == [
        "urn:uuid:cdfb1a0c-4f1c-4a9e-9c2d-466574a9603f",
        "urn:uuid:036a07e4-7b3e-4d20-8f61-ebcca035ef04",
    ]
    first = papers[0]
    assert first.title == "Notes on Orca 2: Teaching Small Language Models How to Reason"
    assert first.link == "https://notes.example.net/posts/orca-2"
    assert first.authors == ("S\u00f8ren \u00c5berg",)
    assert first.published == datetime(2024, 3, 12, 9, 0, tzinfo=UTC)
    assert first.abstract.startswith("Orca 1 learns from rich signals")


# --- HTTP behaviour -----------------------------------------------------------------------


def test_user_agent_names_digestbot(http):
    fetch(http, source("rss", BLOG_URL), "generic_rss.xml")
    assert http.calls[0].request.headers["User-Agent"].startswith("digestbot/")


def test_conditional_get_304_is_not_modified(http, store):
    src = source("arxiv_rss", RSS_URL)
    validators = {"ETag": '"cs-lg-2024-03-14"', "Last-Modified": "Thu, 14 Mar 2024 04:00:00 GMT"}
    serve(http, RSS_URL, "arxiv_rss_cs_lg.xml", headers=validators)
    http.get(RSS_URL, status=304)
    client = make_client()

    first = collect.fetch_one(store, src, client)
    assert (first.new, first.not_modified, first.error) == (4, False, None)
    assert "If-None-Match" not in http.calls[0].request.headers
    assert store.source_state(src.name)["etag"] == '"cs-lg-2024-03-14"'

    second = collect.fetch_one(store, src, client)
    headers = http.calls[1].request.headers
    assert headers["If-None-Match"] == '"cs-lg-2024-03-14"'
    assert headers["If-Modified-Since"] == "Thu, 14 Mar 2024 04:00:00 GMT"
    assert second.not_modified
    assert (second.new, second.known, second.error) == (0, 0, None)
    assert store.count_papers() == 4
    state = store.source_state(src.name)
    assert (state["last_error"], state["failures"]) == (None, 0)
    assert state["etag"] == '"cs-lg-2024-03-14"'  # kept for the next conditional GET


def test_http_500_is_recorded_and_the_next_source_still_runs(http, store):
    broken = source("rss", "https://down.example.org/feed.xml", name="broken")
    working = source("rss", BLOG_URL, name="blog")
    http.get(broken.url, status=500, body="Internal error")
    serve(http, BLOG_URL, "generic_rss.xml")

    outcomes = collect.fetch_all(store, [broken, working], make_client())
    assert [o.name for o in outcomes] == ["broken", "blog"]
    assert (
        outcomes[0].error == "HTTP 500 Internal Server Error: the server failed; the next fetch tries again"
    )
    assert outcomes[1].ok and outcomes[1].new == 3
    state = store.source_state("broken")
    assert (
        state["last_error"] == "HTTP 500 Internal Server Error: the server failed; the next fetch tries again"
    )
    assert state["failures"] == 1
    assert state["last_ok_at"] is None
    assert store.count_papers() == 3
    assert store.paper("tag:blog.example.org,2024:post-0042").sources == ("blog",)

    collect.fetch_one(store, broken, make_client())  # still down: the count goes on
    assert store.source_state("broken")["failures"] == 2


def test_failures_reset_after_a_good_fetch(http, store):
    src = source("rss", BLOG_URL, name="blog")
    http.get(BLOG_URL, status=503, body="busy")
    serve(http, BLOG_URL, "generic_rss.xml")
    client = make_client()
    assert not collect.fetch_one(store, src, client).ok
    assert collect.fetch_one(store, src, client).ok
    state = store.source_state("blog")
    assert (state["failures"], state["last_error"], state["last_new"]) == (0, None, 3)


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ConnectTimeout("Connection to blog.example.org timed out. (connect timeout=10)"),
        requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='blog.example.org'): Read timed out."),
    ],
    ids=["connect", "read"],
)
def test_timeout_is_a_source_failure(http, store, error):
    http.get(BLOG_URL, body=error)
    outcome = collect.fetch_one(store, source("rss", BLOG_URL, name="blog"), make_client())
    assert outcome.error.startswith("timed out")
    assert store.source_state("blog")["last_error"].startswith("timed out")
    assert store.source_state("blog")["failures"] == 1


def test_html_error_page_with_200_is_a_failure(http, store):
    serve(http, RSS_URL, "html_error_page.html", content_type="text/html")
    outcome = collect.fetch_one(store, source("arxiv_rss", RSS_URL), make_client())
    assert outcome.error is not None and "HTML page" in outcome.error
    assert store.count_papers() == 0


def test_truncated_feed_stores_nothing(http, store):
    serve(http, RSS_URL, "truncated_feed.xml")
    outcome = collect.fetch_one(store, source("arxiv_rss", RSS_URL), make_client())
    assert outcome.error is not None and outcome.error.startswith("malformed feed")
    # Three whole items came before the cut: none of them may land.
    assert store.count_papers() == 0
    assert store.source_state("arxiv-rss")["failures"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'<?xml version="1.0"?><urlset><url><loc>https://blog.example.org/</loc></url></urlset>',
            "not an RSS",
        ),
        (b'{"posts": []}', "a JSON document, not an RSS/Atom or JSON Feed"),
    ],
    ids=["other-xml", "json"],
)
def test_not_a_feed_is_a_failure(http, store, body, message):
    http.get(BLOG_URL, body=body)
    outcome = collect.fetch_one(store, source("rss", BLOG_URL, name="blog"), make_client())
    assert outcome.error is not None and outcome.error.startswith(message)


@pytest.mark.parametrize("declared", [False, True], ids=["streamed", "content-length"])
def test_response_over_max_bytes_is_too_large(http, store, declared):
    body = fixture_bytes("generic_rss.xml")
    assert len(body) > 1000
    headers = {"Content-Length": str(len(body))} if declared else {}
    http.get(BLOG_URL, body=body, headers=headers)
    outcome = collect.fetch_one(store, source("rss", BLOG_URL, name="blog"), make_client(max_bytes=1000))
    assert outcome.error is not None and "too large" in outcome.error
    assert store.count_papers() == 0


def test_response_under_max_bytes_is_fine(http):
    body = fixture_bytes("generic_rss.xml")
    http.get(BLOG_URL, body=body)
    result = fetch_source(source("rss", BLOG_URL), make_client(max_bytes=len(body)))
    assert len(result.papers) == 3


def test_client_raises_fetch_error_for_http_errors(http):
    http.get(BLOG_URL, status=404, body="Not Found")
    with pytest.raises(FetchError, match="HTTP 404"):
        make_client().get(BLOG_URL)


def test_local_file_source(http, store):
    src = source("arxiv_rss", path=FIXTURES / "arxiv_rss_cs_lg.xml", name="local")
    assert src.location == str(FIXTURES / "arxiv_rss_cs_lg.xml")
    outcome = collect.fetch_one(store, src, make_client())
    assert outcome.ok and outcome.new == 4
    assert len(http.calls) == 0
    assert store.paper("arxiv:2403.20001").authors == ARXIV_RSS_AUTHORS
    assert store.source_state("local")["location"] == src.location


def test_missing_local_file_is_a_failure(http, store, tmp_path):
    src = source("rss", path=tmp_path / "gone.xml", name="local")
    outcome = collect.fetch_one(store, src, make_client())
    assert outcome.error is not None and outcome.error.startswith("cannot read")
    assert store.source_state("local")["failures"] == 1


def test_validators_are_not_sent_to_a_new_url(http, store):
    validators = {"ETag": '"cs-lg"', "Last-Modified": "Thu, 14 Mar 2024 04:00:00 GMT"}
    serve(http, RSS_URL, "arxiv_rss_cs_lg.xml", headers=validators)
    serve(http, "https://rss.arxiv.org/rss/cs.AI", "arxiv_rss_weekend.xml")
    client = make_client()
    collect.fetch_one(store, source("arxiv_rss", RSS_URL, name="arxiv"), client)
    collect.fetch_one(store, source("arxiv_rss", "https://rss.arxiv.org/rss/cs.AI", name="arxiv"), client)
    headers = http.calls[1].request.headers
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers


def test_validators_are_not_sent_to_a_new_url_after_it_failed_once(http, store):
    new_url = "https://rss.arxiv.org/rss/cs.AI"
    validators = {"ETag": '"cs-lg"', "Last-Modified": "Thu, 14 Mar 2024 04:00:00 GMT"}
    serve(http, RSS_URL, "arxiv_rss_cs_lg.xml", headers=validators)
    http.get(new_url, status=503, body="busy")
    serve(http, new_url, "arxiv_rss_weekend.xml")
    client = make_client()
    assert collect.fetch_one(store, source("arxiv_rss", RSS_URL, name="arxiv"), client).ok
    # The user points the source at another category; its first fetch fails, the next one runs.
    moved = source("arxiv_rss", new_url, name="arxiv")
    assert not collect.fetch_one(store, moved, client).ok
    collect.fetch_one(store, moved, client)
    headers = http.calls[2].request.headers
    # cs.LG's validators mean nothing to cs.AI: a 304 here would hide cs.AI's papers.
    assert "If-None-Match" not in headers
    assert "If-Modified-Since" not in headers


def test_hf_daily_keeps_links_stars_summary_thumbnail_comments_and_organization(http):
    papers = by_key(fetch(http, source("hf_daily", HF_URL), "hf_daily.json"))
    rich = papers["arxiv:2403.20201"]
    assert (rich.hf_url, rich.github_url, rich.github_stars, rich.project_url) == (
        "https://huggingface.co/papers/2403.20201",
        "https://github.com/example-lab/policy-distill",
        1234,
        "https://example-lab.github.io/policy-distill/",
    )
    assert rich.ai_summary == "A distilled diffusion policy runs ten times faster with the same success rate."
    assert (
        rich.thumbnail_url == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2403.20201.png"
    )
    assert (rich.comments, rich.organization) == (5, "Example Robotics Lab")
    plain = papers["arxiv:2403.20001"]
    assert (
        plain.github_url,
        plain.github_stars,
        plain.project_url,
        plain.ai_summary,
        plain.organization,
    ) == (
        "",
        None,
        "",
        "",
        "",
    )
    assert (plain.comments, plain.hf_url) == (3, "https://huggingface.co/papers/2403.20001")


def test_hf_daily_drops_links_that_are_not_http_and_counts_that_are_not_counts(http):
    papers = by_key(fetch(http, source("hf_daily", HF_URL), "hf_daily.json"))
    # javascript:, a relative link, text for stars, a negative count, an http: thumbnail
    bad = papers["arxiv:2403.20202"]
    assert (bad.github_url, bad.github_stars, bad.project_url, bad.comments, bad.thumbnail_url) == (
        "",
        None,
        "",
        None,
        "",
    )
    # a quote inside a GitHub URL, ftp:, a data: thumbnail, an organization that is a string
    worse = papers["arxiv:2403.20203"]
    assert (worse.github_url, worse.project_url, worse.thumbnail_url, worse.organization) == ("", "", "", "")
    assert worse.upvotes == 9 and worse.title  # the paper itself is kept
