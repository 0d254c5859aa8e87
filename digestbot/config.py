"""subscriptions.yaml and the environment, read into validated settings.

Every problem is collected (not just the first) and reported as `file:line: field: message`.
The YAML is read with PyYAML's safe loader through its node tree, so each value keeps its line
and duplicate keys are caught (plain `yaml.safe_load` silently keeps the last one).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import yaml

from .arxiv_ids import arxiv_id, problem_note
from .delivery.email import SMTP_TIMEOUT, SmtpSettings
from .delivery.message import split_address
from .library import MAX_LIBRARY_BYTES, LibraryError, library_text, read_library
from .matching import (
    author_problem,
    category_problem,
    distinct_terms,
    entry_key,
    term_key,
    term_problem,
    vetoes,
)
from .models import SLACK_CONVERSATION_PREFIXES, SLACK_USER_PREFIXES, Profile, Subscriber
from .schedule import parse_duration, parse_schedule, settable_timezone
from .text import (
    host_name,
    invisible_character,
    is_number,
    line_at,
    mask_url,
    single_spaced,
    unicode_host,
    url_secrets,
)

SOURCE_TYPES = ("rss", "arxiv_rss", "arxiv_api", "hf_daily")
ANNOUNCE_TYPES = ("new", "cross", "replace", "replace-cross")
DEFAULT_URLS = {
    "hf_daily": "https://huggingface.co/api/daily_papers",
    "arxiv_api": "https://export.arxiv.org/api/query",
}
DEFAULT_EVERY = {"arxiv_api": 12 * 3600}
DEFAULT_SCHEDULE = "daily 08:00"
DEFAULT_MAX_PAPERS = 25
MAX_KEYWORDS = 200
MAX_SMTP_TIMEOUT = 300
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:+-]{0,63}$")
# Ids the bot makes for digests created outside the YAML: a YAML id may not look like one, or
# that Slack user (or web reader) could take the YAML subscriber over.
RESERVED_ID_PREFIXES = ("slack:", "web:")
_SOURCE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Kept out of an address not in quotes (RFC 5322: comments, list separators, a group's ':';
# `mailto:a@b.org` is a link, not an address). Brackets pass, as mail servers take them.
_NOT_IN_ADDRESS = r"@\s<>\"(),:;\\"
_EMAIL_RE = re.compile(rf"^[^{_NOT_IN_ADDRESS}]+@[^{_NOT_IN_ADDRESS}]+\.[^{_NOT_IN_ADDRESS}]+$")
_SLACK_RE = re.compile(
    rf"^(#[a-z0-9][a-z0-9_-]{{0,79}}|[{''.join(SLACK_CONVERSATION_PREFIXES + SLACK_USER_PREFIXES)}][A-Z0-9]{{6,}})$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        if not self.line:  # the file as a whole (missing, unreadable): no line to point at
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ConfigError(Exception):
    """One or more problems in the configuration; str() lists them all, one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


DEFAULT_ANNOUNCE = ("new", "cross")  # the announce types an arxiv_rss source keeps unless told


@dataclass(frozen=True)
class SourceConfig:
    """One feed to fetch. `url` is an http(s) URL; `path` is set instead for a local file."""

    name: str
    type: str
    url: str | None
    path: Path | None
    every: int
    announce: tuple[str, ...] = DEFAULT_ANNOUNCE
    query: str | None = None
    max_results: int = 100
    date: str | None = None
    timeout: int | None = None  # seconds a whole fetch may take; None: the client's default

    @property
    def location(self) -> str:
        """Where the source is read, with what is asked there (an arxiv_api query and its size,
        an hf_daily date, the announce types an arxiv_rss source keeps when not the default): a
        server's validators and its Retry-After belong to that, so a changed query, date or
        announce starts afresh (no 304 for the listing whose replacements were left out), as a
        changed url does."""
        where = self.url or str(self.path)
        announce = sorted(set(self.announce))
        asked = {
            "arxiv_api": {"search_query": self.query, "max_results": self.max_results},
            "hf_daily": {"date": self.date},
            "arxiv_rss": {"announce": ",".join(announce) if announce != sorted(DEFAULT_ANNOUNCE) else None},
        }.get(self.type, {})
        asked = {k: v for k, v in asked.items() if v is not None}
        return f"{where} {urlencode(asked)}" if asked else where


# A scheme (two letters or more: `C:/...` is a Windows path), a colon and a slash: a URL, maybe
# mistyped (`postgresql:/host/db`), never a SQLite file to create (it was: a folder `postgresql:`).
_URL_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):/")


def is_database_url(text: str) -> bool:
    return _URL_RE.match(text) is not None


# libpq's connection keywords (PostgreSQL 15's, and 16's load_balance_hosts): a value starting
# with one and `=` is a libpq connection string (`host=db dbname=digestbot`), never a file name.
_LIBPQ_KEYWORDS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "sslmode",
        "requiressl",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "service",
        "target_session_attrs",
        "load_balance_hosts",
    }
)
_CONNINFO_RE = re.compile(rf"\s*(?:{'|'.join(sorted(_LIBPQ_KEYWORDS, key=len, reverse=True))})\s*=")
_CONNINFO_PAIR_RE = re.compile(r"\s*(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)*)")


def _conninfo_as_url(text: str) -> str | None:
    """A libpq `key=value ...` string as the postgresql:// URL that says the same, its password
    as *** (None if it does not read as one)."""
    pairs, at = {}, 0
    while text[at:].strip():
        found = _CONNINFO_PAIR_RE.match(text, at)
        if found is None or found.group(1) not in _LIBPQ_KEYWORDS:
            return None
        value = found.group(2)
        value = value[1:-1] if value.startswith("'") and len(value) > 1 else value
        pairs[found.group(1)] = re.sub(r"\\(.)", r"\1", value)
        at = found.end()
    hidden = ":***" if pairs.pop("password", None) is not None else ""  # never shown
    user, host, port, dbname = (pairs.pop(k, "") for k in ("user", "host", "port", "dbname"))
    if host.startswith("/"):  # a Unix socket's folder: only a query parameter can say it
        pairs, host = {"host": host, **pairs}, ""
    hosts, ports = host.split(","), port.split(",")
    ports = ports * len(hosts) if len(ports) == 1 else ports  # one port for every host
    hostports = ",".join(
        (f"[{h}]" if ":" in h else h) + (f":{p}" if p else "") for h, p in zip(hosts, ports, strict=False)
    )
    netloc = (quote(user, safe="") + hidden + "@" if user or hidden else "") + hostports
    query = "?" + urlencode(pairs) if pairs else ""
    return f"postgresql://{netloc}/{quote(dbname, safe='')}{query}"


def other_notation(text: str) -> str | None:
    """What to write instead of a PostgreSQL database given in another client's notation (a
    libpq connection string, SQLAlchemy's postgresql+psycopg://), or None."""
    if _CONNINFO_RE.match(text):
        url = _conninfo_as_url(text)
        said = f" as a URL: {url}" if url else ", such as postgresql://user@host:5432/dbname"
        return f"a libpq connection string (key=value) is not what digestbot reads: give the database{said}"
    found = _URL_RE.match(text)
    scheme = found.group(1).lower() if found else ""
    if scheme.startswith(("postgresql+", "postgres+")):
        url = mask_url("postgresql" + text[found.end(1) :])
        return f"{scheme}:// is SQLAlchemy's notation (digestbot picks its own driver): write {url}"
    return None


def check_database(text: str, password_allowed: bool = False) -> None:
    """A database is a file path or a postgresql:// URL (postgresql://user@host:port/dbname; as
    in libpq, the database may be left out, meaning the user's, or given as ?dbname=). A
    password is refused unless `password_allowed` (the environment and the command line may
    hold one; the YAML may not). A PostgreSQL database in another notation is refused with the
    URL that says the same (it was a SQLite file of that name, or "not a database")."""
    other = other_notation(text)
    if other:
        raise ValueError(other)
    found = _URL_RE.match(text)
    if found is None:
        return
    scheme = found.group(1).lower()  # as the store's is_postgres reads it: in any case
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(
            f"{scheme}:// is not a database digestbot can use: give a SQLite file path or a postgresql:// URL"
        )
    if not text[found.end() :].startswith("/"):
        raise ValueError(
            f"a PostgreSQL URL starts with {scheme}:// (two slashes), as in postgresql://user@host/dbname"
        )
    _refuse_unencoded_userinfo(text[found.end() + 1 :])
    parts = urlsplit(text)
    try:  # libpq takes several hosts, host1:5432,host2:5433, each with its own port
        for host in parts.netloc.rpartition("@")[2].split(","):
            urlsplit(f"//{host}").port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("the PostgreSQL URL's port is not a number") from None
    if (parts.password or url_secrets(text)) and not password_allowed:  # user info or ?password=
        raise ValueError(
            "a password does not belong in the YAML: put it in DIGESTBOT_DB, PGPASSWORD or ~/.pgpass"
        )


def _refuse_unencoded_userinfo(rest: str) -> None:
    """A user name or password (before the host's `@`) holding a character URLs reserve: libpq
    reads the user info up to the first `@` (the rest became a host name it looked up, forever),
    and `/ ? #` end it sooner. Never quotes the password. `rest`: the URL after `//`."""
    at = rest.rfind("@")
    if at < 0:
        return
    userinfo, host = rest[:at], re.match(r"[\w.\-\[\]:%,]*", rest[at + 1 :]).group()
    if rest[at + 1 + len(host) : at + 2 + len(host)] not in ("", "/", "?"):
        return  # no host after this `@`: it is not the user info's end
    if re.search(r"/[^?]*\?", userinfo):
        return  # a path, then a query (`?user=me@corp`): the `@` is in the query
    if any(c in userinfo for c in "@/?#"):
        raise ValueError(
            "the PostgreSQL URL cannot be read unambiguously: percent-encode the characters @ / ? #"
            " in the user name and password (as %40 %2F %3F %23; also : as %3A in the user name and"
            " % as %25), e.g. postgresql://digestbot:p%40ss@host/digestbot"
        )


@dataclass(frozen=True)
class WebConfig:
    """`web:` in the YAML: the self-service pages. `signup`: readers may subscribe themselves;
    `allow_domains`: only addresses at these domains (or their subdomains) may; `proxies`: how
    many reverse proxies in front set X-Forwarded-For/-Proto (the client address the rate limits
    count, and whether a request came over HTTPS); `signups_per_hour`: from one client."""

    signup: bool = False
    allow_domains: tuple[str, ...] = ()
    proxies: int = 0
    signups_per_hour: int = 10  # from one client (network): a department behind one NAT may need more

    def allows(self, email: str) -> bool:
        """Whether an address may sign up (any, when no domains are set); a domain outside
        ASCII is the same in either spelling (`müller.example`, `xn--mller-kva.example`)."""
        if not self.allow_domains:
            return True
        domain = host_name(email.rpartition("@")[2]) or ""
        allowed = filter(None, map(host_name, self.allow_domains))
        return any(domain == d or domain.endswith("." + d) for d in allowed)


@dataclass(frozen=True)
class Config:
    """The validated contents of subscriptions.yaml."""

    path: Path
    database: Path | str | None = None  # a SQLite file, or a postgresql:// URL
    timezone: str = "UTC"
    templates: Path | None = None
    sources: tuple[SourceConfig, ...] = ()
    email_from: str = "digestbot <digestbot@localhost>"
    unsubscribe_mailto: str | None = None
    subscribers: tuple[Subscriber, ...] = ()
    default_schedule: str = DEFAULT_SCHEDULE
    default_max_papers: int = DEFAULT_MAX_PAPERS
    default_timezone: str = "UTC"
    files: tuple[Path, ...] = ()  # other files the config read (libraries): a change to one reloads it
    # Ids an older digestbot read otherwise from the same text (an unquoted `0123` was 83):
    # (id, former id) pairs, so the store renames such a subscriber instead of starting afresh.
    former_ids: tuple[tuple[str, str], ...] = ()

    web: WebConfig | None = None  # None: no sign-up or manage pages

    def source(self, name: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.name == name), None)

    def current_id(self, sid: str) -> str:
        """The id a subscriber has now, for a link an older version signed with its former id
        (`former_ids`: the store renamed that subscriber); any other id as it is."""
        if any(s.id == sid for s in self.subscribers):
            return sid
        return next((new for new, former in self.former_ids if former == sid), sid)


@dataclass(frozen=True)
class Env:
    """Secrets and endpoints, which come from the environment and never from the YAML."""

    smtp_url: str | None = None
    outbox: Path = Path("outbox")
    base_url: str | None = None
    secret: str | None = None
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str | None = None
    smtp_timeout: float = SMTP_TIMEOUT  # seconds an SMTP server may stay silent (DIGESTBOT_SMTP_TIMEOUT)
    # Several workers: how long a worker's claim on its subscribers lasts unless renewed (a
    # worker killed mid-batch: another takes its digests over after this), and send rates that
    # hold across all workers (messages a second; None: no limit but Slack's own per channel).
    lease: float = 120.0  # DIGESTBOT_LEASE, seconds
    smtp_rate: float | None = None  # DIGESTBOT_SMTP_RATE: what the SMTP relay allows
    slack_rate: float | None = None  # DIGESTBOT_SLACK_RATE: a ceiling for the whole Slack workspace

    def problems(self, web: bool = False) -> list[str]:
        """What is wrong with the environment's settings (never echoing a secret). `web`: the
        YAML turns the web pages on, which need the public URL and the secret for their links."""
        found = []
        if web and not (self.base_url and self.secret):
            found.append(
                "the YAML's web: section turns the web pages on: set DIGESTBOT_BASE_URL (the public https"
                " URL) and DIGESTBOT_SECRET (signs their links and cookies)"
            )
        if not 0 < self.smtp_timeout <= MAX_SMTP_TIMEOUT:  # NaN (not a number) fails this too
            found.append(
                f"DIGESTBOT_SMTP_TIMEOUT must be a number of seconds above 0, at most {MAX_SMTP_TIMEOUT}"
            )
        if not 5 <= self.lease <= 86400:
            found.append("DIGESTBOT_LEASE must be a number of seconds from 5 to 86400")
        for name, rate in (
            ("DIGESTBOT_SMTP_RATE", self.smtp_rate),
            ("DIGESTBOT_SLACK_RATE", self.slack_rate),
        ):
            if rate is not None and not 0 < rate <= 10000:
                found.append(f"{name} must be a number of messages a second above 0, at most 10000")
        for name, value, spaces in (
            ("DIGESTBOT_BASE_URL", self.base_url, True),
            ("DIGESTBOT_SLACK_API_URL", self.slack_api_url, True),
            ("SLACK_BOT_TOKEN", self.slack_bot_token, True),
            ("SLACK_SIGNING_SECRET", self.slack_signing_secret, True),
            ("SLACK_APP_TOKEN", self.slack_app_token, True),
            ("DIGESTBOT_OUTBOX", str(self.outbox), False),  # a folder's name may hold a space
        ):
            if value and (invisible_character(value) or (spaces and re.search(r"\s", value))):
                what = "a space, a line break or a control character" if spaces else "a control character"
                found.append(  # never the value: it may be a secret
                    f"{name} holds {what} (a line end copied with it, or a file saved with"
                    " Windows line ends?): set it to the value alone"
                )
        found += self._swapped_slack_tokens()
        if self.smtp_url:
            try:
                SmtpSettings.from_url(self.smtp_url)
            except ValueError as e:  # its messages never quote the URL
                found.append(str(e))
        if self.slack_api_url and not _is_http_url(self.slack_api_url):
            found.append("DIGESTBOT_SLACK_API_URL must be an http(s) URL, e.g. https://slack.com/api/")
        if names_a_variable(str(self.outbox)) and not self.outbox.exists():
            found.append(f"DIGESTBOT_OUTBOX: {NOT_EXPANDED}")
        blocking = next((p for p in (self.outbox, *self.outbox.parents) if p.exists()), None)
        if blocking is not None and not blocking.is_dir():  # every digest would fail to be written
            found.append(f"DIGESTBOT_OUTBOX must name a folder: {blocking} is a file")
        if self.base_url and not _is_http_url(self.base_url):
            found.append("DIGESTBOT_BASE_URL must be an http(s) URL, e.g. https://digest.example.org")
        elif self.base_url and (urlsplit(self.base_url).query or "#" in self.base_url):
            found.append(  # every link is the base URL and a path after it: a query would break them all
                "DIGESTBOT_BASE_URL cannot hold a query or a fragment (?, #): give where digestbot serve"
                " is reached, e.g. https://digest.example.org or https://example.org/digest"
            )
        if self.base_url and not self.secret:
            found.append("DIGESTBOT_BASE_URL is set but DIGESTBOT_SECRET is not: unsubscribe links need both")
        return found

    def _swapped_slack_tokens(self) -> list[str]:
        """A Slack token of the other kind in a token's place (the prefixes Slack gives them:
        xoxb- bot, xoxp- user, xapp- app-level), which Slack refuses as not_allowed_token_type."""
        found = []
        if (self.slack_bot_token or "").startswith("xapp-"):
            found.append(
                "SLACK_BOT_TOKEN is an app-level token (xapp-…), which cannot post: set it to the bot"
                " token (xoxb-…, under OAuth & Permissions); an xapp- token belongs in SLACK_APP_TOKEN"
            )
        if (self.slack_app_token or "").startswith("xox"):
            found.append(
                "SLACK_APP_TOKEN is not an app-level token (xapp-…): create one under Basic Information,"
                " App-Level Tokens (scope connections:write); the xoxb- bot token belongs in SLACK_BOT_TOKEN"
            )
        return found

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Env:
        e = os.environ if environ is None else environ
        return cls(
            smtp_url=e.get("DIGESTBOT_SMTP_URL") or None,
            outbox=Path(e.get("DIGESTBOT_OUTBOX") or "outbox").expanduser(),  # as a shell would
            base_url=(e.get("DIGESTBOT_BASE_URL") or "").rstrip("/") or None,
            secret=e.get("DIGESTBOT_SECRET") or None,
            slack_bot_token=e.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=e.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=e.get("SLACK_APP_TOKEN") or None,
            slack_api_url=e.get("DIGESTBOT_SLACK_API_URL") or None,
            smtp_timeout=_seconds(e.get("DIGESTBOT_SMTP_TIMEOUT"), cls.smtp_timeout),
            lease=_seconds(e.get("DIGESTBOT_LEASE"), cls.lease),
            smtp_rate=_seconds(e.get("DIGESTBOT_SMTP_RATE"), None),
            slack_rate=_seconds(e.get("DIGESTBOT_SLACK_RATE"), None),
        )


def _is_http_url(url: str) -> bool:
    """An http(s) URL with a host and a port that parse (`http://[` and `http://h:99999` do not)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _seconds(text: str | None, default: float | None) -> float | None:
    """A number of seconds from the environment; NaN (reported by Env.problems) if it is not one."""
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        return float("nan")


# --- YAML with line numbers ---------------------------------------------------------------


@dataclass
class _Value:
    """A YAML value with the line it starts on (1-based). Mappings and lists hold _Values."""

    value: Any
    line: int
    raw: str | None = None  # a scalar as written in the file (YAML reads `0123` as the number 83)
    explicit: bool = True  # a mapping's value given by its own key, not by a merge key (`<<`)


class _Reader:
    """Turns a YAML node tree into _Values, noting duplicate keys as problems."""

    def __init__(self, loader: yaml.SafeLoader, report: Callable[[int, str, str], None]):
        self.loader = loader
        self.report = report

    def _construct(self, node: yaml.Node) -> Any:
        """A scalar's value; one YAML would make a date or number of but cannot (`2024-13-45`:
        PyYAML raises ValueError) is the text it is written as, as YAML 1.2 reads it."""
        if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
            return node.value  # what SafeConstructor makes of it, without its dispatch (most values)
        try:
            return self.loader.construct_object(node)
        except (ValueError, OverflowError):
            if isinstance(node, yaml.ScalarNode):
                return node.value
            raise

    def read(self, node: yaml.Node, path: str) -> _Value:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
            # Safe loading refuses tags like !!python/object on single values; on lists and
            # mappings we walk the nodes ourselves, so refuse them here.
            raise yaml.constructor.ConstructorError(
                None, None, f"could not determine a constructor for the tag {node.tag!r}", node.start_mark
            )
        if isinstance(node, yaml.MappingNode):
            return _Value(self._mapping(node, path), line)
        if isinstance(node, yaml.SequenceNode):
            return _Value([self.read(n, f"{path}[{i}]") for i, n in enumerate(node.value)], line)
        value = self._construct(node)
        if isinstance(value, str) and _SURROGATE_RE.search(value):
            # YAML's "\ud800" escape makes a lone surrogate: no mail, page or database can carry it.
            self.report(line, path, 'holds a lone surrogate (a "\\ud800"-style escape): not text; remove it')
            value = _SURROGATE_RE.sub("", value)
        return _Value(value, line, node.value if isinstance(node, yaml.ScalarNode) else None)

    def _mapping(self, node: yaml.MappingNode, path: str) -> dict[str, _Value]:
        """A mapping's values by key, its merge keys (`<<: *alice`) taken in: an explicit key
        overrides a merged one, as YAML says; only two explicit ones are duplicates."""
        out: dict[str, _Value] = {}
        for key_node, value_node, explicit in _pairs(node):
            key = self._construct(key_node)
            key = str(key) if key is not None else ""
            sub = f"{path}.{key}" if path else key
            if explicit and key in out and out[key].explicit:
                self.report(key_node.start_mark.line + 1, sub, "duplicate key")
            if explicit or key not in out:
                out[key] = self.read(value_node, sub)
                out[key].line, out[key].explicit = key_node.start_mark.line + 1, explicit
        return out


_MERGE_TAG, _VALUE_TAG = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"
_STR_TAG = "tag:yaml.org,2002:str"


def _pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node, bool]]:
    """(key, value, explicit) of a mapping: its own pairs, then what its merge keys bring, the
    first merged mapping before later ones (PyYAML's flatten_mapping, without changing the
    nodes an alias shares: reading one again would take its merged keys for its own)."""
    own, merged = [], []
    for key_node, value_node in node.value:
        if key_node.tag == _VALUE_TAG:  # a bare `=`: text, as flatten_mapping makes it
            key_node = yaml.ScalarNode("tag:yaml.org,2002:str", key_node.value, key_node.start_mark)
        if key_node.tag != _MERGE_TAG:
            own.append((key_node, value_node, True))
            continue
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    "'<<' (a merge key) takes a mapping or a list of them, as in '<<: *alice'",
                    source.start_mark,
                )
            merged += [(k, v, False) for k, v, _ in _pairs(source)]
    return own + merged


_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_PLAIN_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap")


MAX_ALIAS_EXPANSION = 50_000  # values reached again through aliases: far above any real config


class _AliasBomb(Exception):
    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph whose aliases expand it without bound (a "billion laughs" file, an
    alias to itself) before anything walks it as a tree."""
    seen: set[int] = set()
    visits = 0
    stack = [root]
    while stack:
        node = stack.pop()
        visits += 1
        seen.add(id(node))
        if visits - len(seen) > MAX_ALIAS_EXPANSION:
            raise _AliasBomb(node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack += (key, value)
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


# libyaml's parser (PyYAML's C extension, in its wheels) composes a large file about ten times
# faster than PyYAML's own (20,000 subscribers: most of a 20 s load); None where PyYAML was built
# without it.
_LIBYAML = getattr(yaml, "CSafeLoader", None)


if _LIBYAML is not None:

    class _LibyamlLoader(_LIBYAML):
        """libyaml's loader, remembering how each plain scalar resolved (`id`, `email`, `daily
        08:00` come back thousands of times): PyYAML's resolver, in Python, runs its patterns on
        every one, which was most of what libyaml left. Safe loading has no path resolvers, so a
        scalar's tag depends on its text alone."""

        def __init__(self, text: str):
            super().__init__(text)
            self._resolved: dict = {}

        def resolve(self, kind, value, implicit):
            key = (kind, value, implicit)
            tag = self._resolved.get(key)
            if tag is None:
                tag = self._resolved[key] = super().resolve(kind, value, implicit)
            return tag


def _fast_node(text: str) -> yaml.Node | bool | None:
    """The document's node tree as libyaml composes it; False when libyaml is missing or finds a
    YAML error: PyYAML's own parser then reads the file, so a message is the same either way."""
    if _LIBYAML is None:
        return False
    fast = _LibyamlLoader(text)
    try:
        return fast.get_single_node()
    except yaml.YAMLError:
        return False
    finally:
        fast.dispose()


def _load_yaml(text: str, report: Callable[[int, str, str], None]) -> _Value | None:
    try:
        loader = yaml.SafeLoader(text)  # checks every character first: raises a ReaderError
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        report(
            line, "yaml", f"unacceptable character #x{e.character:04x}: special characters are not allowed"
        )
        return None
    try:
        node = _fast_node(text)
        if node is False:
            node = loader.get_single_node()
        if node is None:
            return None
        if "&" in text:  # no anchor, no alias: nothing to expand (the walk is a tenth of a load)
            _check_expansion(node)
        return _Reader(loader, report).read(node, "")
    except _AliasBomb as e:
        report(
            e.line,
            "yaml",
            f"too many aliases: they expand the file to over {MAX_ALIAS_EXPANSION} repeated values "
            "(write the values out, or use fewer aliases)",
        )
        return None
    except RecursionError:
        report(1, "yaml", "nested too deeply: lists and mappings inside each other go too deep")
        return None
    except yaml.MarkedYAMLError as e:
        report(*_syntax_problem(e))
        return None
    except yaml.YAMLError as e:
        report(1, "yaml", str(e))
        return None
    finally:
        loader.dispose()


# What to do about PyYAML's syntax errors: (words of its context or problem, the fix), the first that fits.
_YAML_FIXES = (
    ("'\\t' that cannot start", "YAML indents with spaces only, replace the tab with spaces"),
    ("that cannot start any token", "a value starting with this character must be quoted"),
    (
        "mapping values are not allowed",
        "quote a value that holds ': ', or indent this line as the ones above it",
    ),
    (
        "expected <block end>",
        "indent this line as the ones above it (or quote a value with quotes or brackets in it)",
    ),
    (  # a cron schedule written unquoted: `schedule: */15 * * * *`
        "while scanning an alias",
        "a value starting with '*' must be quoted, as a cron schedule: schedule: \"*/15 * * * *\"",
    ),
    (
        "undefined alias",
        "an alias (*name) needs an anchor (&name) above it; quote a value that starts with '*'",
    ),
    ("unknown escape", "in double quotes a backslash starts an escape: write \\\\ or use single quotes"),
)
_UNCLOSED = {  # PyYAML's context: (what it is, how to close it)
    "while scanning a quoted scalar": ("a quoted value", "add the closing quote"),
    "while parsing a flow sequence": (
        "the list '[' opened here",
        "close it with ']' (and quote entries that hold ':' or ',')",
    ),
    "while parsing a flow mapping": ("the mapping '{' opened here", "close it with '}'"),
}


def _syntax_problem(e: yaml.MarkedYAMLError) -> tuple[int, str, str]:
    """(line, field, message) for a YAML syntax error: PyYAML's words and how to fix them. A
    quote, list or mapping left open is reported where it opens, not at the end of the file
    (or wherever the scanner gave up) with nothing on that line to fix."""
    problem = f"{e.problem or e}".strip()
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark else 1
    unclosed = _UNCLOSED.get(e.context or "")
    if unclosed and e.context_mark is not None and e.context_mark.line + 1 != line:
        where = "the end of the file" if "end" in problem else f"line {line}"
        what, fix = unclosed
        return e.context_mark.line + 1, "yaml", f"{what} is not closed before {where} ({problem}): {fix}"
    fix = next((fix for words, fix in _YAML_FIXES if words in f"{e.context} {problem}"), None)
    return line, "yaml", f"{problem}: {fix}" if fix else problem


# --- validation -----------------------------------------------------------------------------


class _Validator:
    """Checks the _Value tree against the schema, collecting every problem it finds."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[Problem] = []
        self.files: list[Path] = []  # the other files read, for the worker to watch
        self.former_ids: dict[str, str] = {}  # subscriber id -> as YAML 1.1 numbers read it

    def report(self, line: int, fld: str, message: str) -> None:
        self.problems.append(Problem(str(self.path), line, fld, message))

    def resolve(self, text: str) -> Path:
        p = Path(text).expanduser()
        return p if p.is_absolute() else self.path.parent / p

    def missing(self, text: str, kind: str) -> str | None:
        """What is wrong with the path `text` where a "file" or a "folder" is meant; None if
        there is one. A name the file system refuses (too long, a folder one may not enter)
        makes Path.is_file() raise: that is a problem too."""
        path = self.resolve(text)
        try:
            if path.is_file() if kind == "file" else path.is_dir():
                return None
        except OSError as e:
            return f"cannot look at {path}: {e.strerror or e}"
        return f"{kind} not found: {path}{self.relative_note(text)}"

    def relative_note(self, text: str) -> str:
        """What a user who wrote a relative path may not know: where it is read from (and that
        `$HOME` is no variable here)."""
        if names_a_variable(text):
            return f" ({NOT_EXPANDED})"
        if Path(text).expanduser().is_absolute():
            return ""
        return f" (a relative path is read from the YAML's folder, {self.path.parent.absolute()})"

    def mapping(self, v: _Value, fld: str, allowed: tuple[str, ...]) -> dict[str, _Value]:
        if v.value is None:
            return {}
        if not isinstance(v.value, dict):
            self.report(v.line, fld, f"expected a mapping, got {_kind(v.value)}")
            return {}
        for key, item in v.value.items():
            if key not in allowed:
                hint = _closest(key, allowed)
                self.report(
                    item.line, _join(fld, key), "unknown key" + (f" (did you mean '{hint}'?)" if hint else "")
                )
        return v.value

    def string(self, m: dict[str, _Value], key: str, fld: str, default: str | None = None) -> str | None:
        v = m.get(key)
        if v is None or v.value is None:
            return default
        text = _text(v)
        if text is None:
            self.report(v.line, _join(fld, key), f"expected text, got {_kind(v.value)}")
            return default
        return text.strip()

    def strings(self, m: dict[str, _Value], key: str, fld: str) -> tuple[str, ...]:
        return tuple(text for _, _, text in self.items(m, key, fld))

    def items(self, m: dict[str, _Value], key: str, fld: str) -> list[tuple[str, int, str]]:
        """A text-or-list key's entries as (field, line, text): `fld.key[i]` with i the entry's
        place in the file, so a problem found later names the entry it is about. Entries that
        are not text are reported here; empty ones are left out."""
        v = m.get(key)
        if v is None or v.value is None:
            return []
        listed = isinstance(v.value, list)
        out = []
        for i, item in enumerate(v.value if listed else [v]):
            where = f"{_join(fld, key)}[{i}]" if listed else _join(fld, key)
            text = _text(item)
            if text is None:
                self.report(item.line, where, f"expected text, got {_kind(item.value)}")
            elif text.strip():
                out.append((where, item.line, text.strip()))
        return out

    def integer(self, m: dict[str, _Value], key: str, fld: str, default: int, lo: int, hi: int) -> int:
        v = m.get(key)
        if v is None or v.value is None:
            return default
        if isinstance(v.value, bool) or not isinstance(v.value, int) or not lo <= v.value <= hi:
            self.report(
                v.line,
                _join(fld, key),
                f"expected a whole number from {lo} to {hi}, got {v.value!r}{_whole_number_hint(v.value)}",
            )
            return default
        return v.value

    def check(self, m: dict[str, _Value], key: str, fld: str, fn: Callable[[Any], Any]) -> bool:
        """Run `fn` on the value as text; a ValueError it raises becomes a problem at that line."""
        v = m.get(key)
        if v is None or v.value is None:
            return True
        text = _text(v)
        if text is None:
            self.report(v.line, _join(fld, key), f"expected text, got {_kind(v.value)}")
            return False
        try:
            fn(text)
            return True
        except ValueError as e:
            self.report(v.line, _join(fld, key), str(e))
            return False

    def line_of(self, m: dict[str, _Value], key: str, fallback: int) -> int:
        return m[key].line if key in m else fallback


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


MAX_EMAIL = 254  # RFC 5321: a path holds at most 256 characters, its angle brackets included
MAX_LOCAL_PART = 64


def is_email(text: str) -> bool:
    """An address as digests need it: one @, a dot in the domain, no control characters, no
    longer than a mail server takes, and the shape a mail server routes (RFC 5321 dot-atoms:
    no empty or hyphen-edged domain label, no dot at either end of the local part or two in a
    row; all typos), else every send fails, and is retried, forever."""
    local, _, domain = text.rpartition("@")
    return (
        bool(_EMAIL_RE.match(text))
        and invisible_character(text) is None
        and len(text) <= MAX_EMAIL
        and len(local) <= MAX_LOCAL_PART
        and "" not in local.split(".")
        and all(label and label[0] != "-" and label[-1] != "-" for label in domain.split("."))
    )


def _mailto_hint(text: str) -> str:
    return " (write the address without 'mailto:')" if "mailto:" in text.lower() else ""


def _shown(text: str) -> str:
    """A value quoted in a message, cut to 80 characters."""
    return repr(text[:80]) + (f" ({len(text)} characters)" if len(text) > 80 else "")


def _text(v: _Value) -> str | None:
    """A scalar as text; a number or a date as it is written in the file, not as YAML read it
    (`0123` is not 83, `2303.04130` not 2303.0413). None for anything else (lists, true/false)."""
    if isinstance(v.value, str):
        return v.value
    if isinstance(v.value, bool) or not isinstance(v.value, int | float | date):
        return None
    return v.raw if v.raw is not None else str(v.value)


def _join(fld: str, key: str) -> str:
    return f"{fld}.{key}" if fld else key


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "true/false", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


# Keys other feed and alert tools (rss2email, arxiv-sanity, zotero-arxiv-daily, cron) use for
# what digestbot names otherwise: no spelling of theirs is close (`path:` is no typo of `url:`).
_SYNONYMS = {
    "path": ("url",),
    "file": ("url", "library"),
    "feed": ("url",),
    "link": ("url",),
    "href": ("url",),
    "interval": ("every",),
    "frequency": ("schedule", "every"),
    "cron": ("schedule",),
    "time": ("schedule",),
    "tz": ("timezone",),
    "mail": ("email",),
    "address": ("email",),
    "to": ("email",),
    "topics": ("keywords",),
    "terms": ("keywords",),
    "words": ("keywords",),
    "exclusions": ("exclude",),
    "ignore": ("exclude",),
    "liked": ("like",),
    "seeds": ("like",),
    "papers": ("like",),
    "zotero": ("library",),
    "bibtex": ("library",),
    "bib": ("library",),
    "limit": ("max_papers", "max_results"),
    "max": ("max_papers", "max_results"),
}


def _closest(key: str, allowed: tuple[str, ...]) -> str | None:
    import difflib

    found = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.7)
    if found:
        return found[0]
    return next((k for k in _SYNONYMS.get(str(key).lower(), ()) if k in allowed), None)


_TOP_KEYS = ("database", "timezone", "templates", "sources", "email", "defaults", "subscribers", "web")
_WEB_KEYS = ("signup", "allow_domains", "proxies", "signups_per_hour")
_SOURCE_KEYS = ("name", "type", "url", "every", "timeout", "announce", "query", "max_results", "date")
MAX_TIMEOUT = 600  # seconds: a fetch that needs longer is better split or mirrored
MIN_EVERY = 60  # seconds: the worker dispatches once a minute; fetching more often is only load
MAX_EVERY = 30 * 86400  # seconds; and far below what the scheduler's timers can hold
_SUBSCRIBER_KEYS = (
    "id",
    "email",
    "slack",
    "keywords",
    "exclude",
    "authors",
    "categories",
    "schedule",
    "timezone",
    "max_papers",
    "like",
    "library",
    "relevance_floor",
    "trending",
    "sources",
    "show_ai_summary",
)
MAX_TRENDING = 1000
MAX_CONFIG_BYTES = 64 * 2**20  # 100,000 subscribers are about 15 MB of YAML


def files_stamp(config: Config) -> tuple[tuple[int, int, int] | None, ...]:
    """What a reload watches of the YAML and the files it names (libraries): each one's
    modification time, size and inode (None: not there). A write that lands within one tick of
    the file system's clock (an editor that truncates, then writes) still changes the size, and
    one that replaces the file (write and rename) the inode."""
    stamps = []
    for path in (config.path, *config.files):
        try:
            st = Path(path).stat()
        except OSError:
            stamps.append(None)
        else:
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(stamps)


def load_config(path: str | Path) -> Config:
    """Read and validate subscriptions.yaml; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # bounded: `--config /dev/zero` read forever
    except FileNotFoundError:
        raise ConfigError(
            [Problem(str(path), 0, "file", "not found (run 'digestbot init' to write one)")]
        ) from None
    except OSError as e:
        raise ConfigError([Problem(str(path), 0, "file", f"cannot read: {e.strerror or e}")]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            [Problem(str(path), 0, "file", f"over {MAX_CONFIG_BYTES // 2**20} MB: not a subscriptions file")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = line_at(data, e.start)
        byte = data[e.start : e.start + 1].hex()
        message = f"not UTF-8 (byte 0x{byte} on this line): save the file as UTF-8"
        raise ConfigError([Problem(str(path), line, "file", message)]) from None
    return parse_config(text.replace("\r\n", "\n").replace("\r", "\n"), path)  # as read_text did


def parse_config(text: str, path: Path) -> Config:
    """Validate YAML text as if read from `path` (relative paths resolve beside it)."""
    v = _Validator(path)
    root = _load_yaml(text, v.report)
    if root is None or root.value in (None, {}):  # `~` or `{}` holds no more than an empty file
        if not v.problems:
            v.report(1, "file", "is empty: expected sources and subscribers")
        raise ConfigError(v.problems)
    top = (
        v.mapping(root, "file", _TOP_KEYS)
        if not isinstance(root.value, dict)
        else v.mapping(root, "", _TOP_KEYS)
    )
    database = v.string(top, "database", "")
    v.check(top, "database", "", check_database)
    templates = v.string(top, "templates", "")
    tz = v.string(top, "timezone", "", "UTC") or "UTC"
    v.check(top, "timezone", "", settable_timezone)
    if templates and (missing := v.missing(templates, "folder")):
        v.report(top["templates"].line, "templates", missing)
    email = v.mapping(top.get("email", _Value(None, 1)), "email", ("from", "unsubscribe_mailto"))
    email_from = v.string(email, "from", "email", Config.email_from)
    if "from" in email and not (
        is_email(split_address(email_from or "")[1]) and not invisible_character(email_from)
    ):
        v.report(
            email["from"].line,
            "email.from",
            f"not an email address: {_shown(email_from or '')}{_mailto_hint(email_from or '')}",
        )
    mailto = v.string(email, "unsubscribe_mailto", "email")
    if mailto and not is_email(mailto):
        v.report(
            email["unsubscribe_mailto"].line,
            "email.unsubscribe_mailto",
            f"not an email address: {_shown(mailto)}{_mailto_hint(mailto)}",
        )
    defaults = v.mapping(
        top.get("defaults", _Value(None, 1)), "defaults", ("schedule", "max_papers", "timezone")
    )
    v.check(defaults, "schedule", "defaults", parse_schedule)
    v.check(defaults, "timezone", "defaults", settable_timezone)
    base = {
        "schedule": v.string(defaults, "schedule", "defaults", DEFAULT_SCHEDULE),
        "max_papers": v.integer(defaults, "max_papers", "defaults", DEFAULT_MAX_PAPERS, 1, 1000),
        "timezone": v.string(defaults, "timezone", "defaults", tz),
    }
    web = _web(v, top)
    sources = _read_list(v, top, "sources", lambda m, f: _source(v, m, f))
    source_types = _declared_sources(top)
    subscribers = _read_list(v, top, "subscribers", lambda m, f: _subscriber(v, m, f, base, source_types))
    _unique(v, top, "sources", "name")
    _unique(v, top, "subscribers", "id")
    if v.problems:
        raise ConfigError(sorted(dict.fromkeys(v.problems), key=lambda p: p.line))
    return Config(
        path=path,
        database=(database if is_database_url(database) else v.resolve(database)) if database else None,
        timezone=tz,
        templates=v.resolve(templates) if templates else None,
        sources=tuple(s for s in sources if s),
        email_from=email_from or Config.email_from,
        unsubscribe_mailto=mailto,
        subscribers=tuple(s for s in subscribers if s),
        default_schedule=base["schedule"],
        default_max_papers=base["max_papers"],
        default_timezone=base["timezone"],
        web=web,
        files=tuple(dict.fromkeys(v.files)),
        former_ids=tuple(v.former_ids.items()),
    )


def _web(v: _Validator, top: dict[str, _Value]) -> WebConfig | None:
    """`web: {signup: true, allow_domains: [...], proxies: 1}`; None when the key is absent."""
    if "web" not in top:
        return None
    node = top["web"]
    m = v.mapping(node, "web", _WEB_KEYS)
    domains = []
    for where, line, d in v.items(m, "allow_domains", "web"):
        name = d.lower().lstrip("@")
        if (host := host_name(name)) is None:
            v.report(line, where, f"not a domain name: {d[:80]!r} (e.g. uni.example)")
        domains.append(unicode_host(host) if host else name)  # one spelling: `xn--mller-kva` is müller
    return WebConfig(
        signup=_flag(v, m, "signup", "web"),
        allow_domains=tuple(dict.fromkeys(domains)),
        proxies=v.integer(m, "proxies", "web", 0, 0, 5),
        signups_per_hour=v.integer(m, "signups_per_hour", "web", 10, 1, 10_000),
    )


def _read_list(v: _Validator, top: dict[str, _Value], key: str, read: Callable) -> list:
    node = top.get(key)
    if node is None or node.value is None:
        return []
    if not isinstance(node.value, list):
        v.report(node.line, key, f"expected a list, got {_kind(node.value)}")
        return []
    return [read(item, f"{key}[{i}]") for i, item in enumerate(node.value)]


def _unique(v: _Validator, top: dict[str, _Value], key: str, attr: str) -> None:
    node = top.get(key)
    items = node.value if node is not None and isinstance(node.value, list) else []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item.value, dict) or attr not in item.value:
            continue
        name = _text(item.value[attr])
        if name is None:
            continue  # not text: reported as such
        name = name.strip()
        if name in seen:
            v.report(item.value[attr].line, f"{key}[{i}].{attr}", f"duplicate {attr} {name!r}")
        seen.add(name)


def _source(v: _Validator, item: _Value, fld: str) -> SourceConfig | None:
    n = len(v.problems)
    m = v.mapping(item, fld, _SOURCE_KEYS)
    name = v.string(m, "name", fld)
    kind = v.string(m, "type", fld, "rss")
    if not name:
        v.report(item.line, f"{fld}.name", "required")
    elif not _SOURCE_NAME_RE.match(name):
        v.report(m["name"].line, f"{fld}.name", "use letters, digits, '.', '_' or '-' (at most 64)")
    if kind not in SOURCE_TYPES:
        v.report(
            v.line_of(m, "type", item.line),
            f"{fld}.type",
            f"unknown type {kind!r} (one of {', '.join(SOURCE_TYPES)})",
        )
    url = v.string(m, "url", fld, DEFAULT_URLS.get(kind or ""))
    if not url:
        v.report(item.line, f"{fld}.url", "required: an http(s) URL or a local file path")
    elif "://" in url and url.split("://", 1)[0].lower() not in ("http", "https"):
        v.report(m["url"].line, f"{fld}.url", "only http(s) URLs or local file paths are allowed")
    elif "://" in url and not _is_http_url(url):
        v.report(m["url"].line, f"{fld}.url", f"not a URL with a host: {url[:80]!r}")
    elif "://" not in url and (missing := v.missing(url, "file")):
        v.report(m["url"].line, f"{fld}.url", missing)
    every = _duration(v, m, "every", fld) or DEFAULT_EVERY.get(kind or "", 6 * 3600)
    if every < MIN_EVERY:
        v.report(
            m["every"].line,
            f"{fld}.every",
            f"at least 1m (digests go out at most once a minute: a feed fetched more often brings"
            f" nothing sooner), got {m['every'].value!r}",
        )
    elif every > MAX_EVERY:
        v.report(
            m["every"].line,
            f"{fld}.every",
            f"at most {MAX_EVERY // 86400}d (a feed lists only its latest items: fetched less often,"
            f" some are never seen), got {m['every'].value!r}",
        )
    bare = "timeout" in m and is_number(str(m["timeout"].value).strip())
    timeout = None if bare else _duration(v, m, "timeout", fld)
    if bare:  # a bare number is minutes to parse_duration (as for every:), seconds to most readers
        number = str(m["timeout"].value).strip()
        v.report(
            m["timeout"].line,
            f"{fld}.timeout",
            f"give a unit: {number}s or {number}m (how long one fetch may take, at most 10m)",
        )
    elif timeout and timeout > MAX_TIMEOUT:
        v.report(m["timeout"].line, f"{fld}.timeout", f"at most {MAX_TIMEOUT // 60}m, e.g. 30s or 2m")
    announce = v.strings(m, "announce", fld) or DEFAULT_ANNOUNCE
    for a in announce:
        if a not in ANNOUNCE_TYPES:
            v.report(
                m["announce"].line,
                f"{fld}.announce",
                f"unknown announce type {a!r} (one of {', '.join(ANNOUNCE_TYPES)})",
            )
    query = v.string(m, "query", fld)
    if kind == "arxiv_api" and not query:
        v.report(item.line, f"{fld}.query", "required for arxiv_api, e.g. 'cat:cs.LG AND abs:diffusion'")
    for key, only in (
        ("announce", "arxiv_rss"),
        ("query", "arxiv_api"),
        ("max_results", "arxiv_api"),
        ("date", "hf_daily"),
    ):
        if key in m and kind != only and kind in SOURCE_TYPES:
            v.report(m[key].line, f"{fld}.{key}", f"only applies to type {only}")
    day = v.string(m, "date", fld)
    if day and not _DATE_RE.match(day):
        v.report(m["date"].line, f"{fld}.date", f"expected YYYY-MM-DD, got {day!r}")
    elif day and not _is_date(day):
        v.report(m["date"].line, f"{fld}.date", f"not a date: {day!r} (YYYY-MM-DD)")
    max_results = v.integer(m, "max_results", fld, 100, 1, 2000)
    if len(v.problems) > n or not name or not url:
        return None
    is_url = "://" in url
    return SourceConfig(
        name=name,
        type=kind or "rss",
        url=url if is_url else None,
        path=None if is_url else v.resolve(url),
        every=every,
        announce=announce,
        query=query,
        max_results=max_results,
        date=day,
        timeout=timeout,
    )


def _duration(v: _Validator, m: dict[str, _Value], key: str, fld: str) -> int | None:
    """A duration key (`30s`, `6h`) in seconds; None when absent or wrong (then reported)."""
    if key not in m:
        return None
    if m[key].value is None:  # `every:` with nothing after it
        v.report(m[key].line, f"{fld}.{key}", "expected a duration such as 30m, 6h or 1d, got nothing")
        return None
    return parse_duration(m[key].value) if v.check(m, key, fld, parse_duration) else None


def _subscriber(
    v: _Validator, item: _Value, fld: str, base: dict, source_types: dict[str, str]
) -> Subscriber | None:
    n = len(v.problems)
    m = v.mapping(item, fld, _SUBSCRIBER_KEYS)
    sid = v.string(m, "id", fld)
    read = m["id"].value if "id" in m else None
    if sid and isinstance(read, int | float) and not isinstance(read, bool) and str(read) != sid:
        v.former_ids[sid] = str(read)  # how digestbot read it before ids were taken as written
    if not sid:
        v.report(item.line, f"{fld}.id", "required")
    elif not _ID_RE.match(sid):
        v.report(
            m["id"].line, f"{fld}.id", "use letters, digits, '.', '_', '-', '@', '+' or ':' (at most 64)"
        )
    elif sid.lower().startswith(RESERVED_ID_PREFIXES):
        v.report(
            m["id"].line,
            f"{fld}.id",
            f"ids starting with {' or '.join(map(repr, RESERVED_ID_PREFIXES))} are reserved for digests"
            " created from Slack or the web; to take one over, give this subscriber the same 'slack:' target",
        )
    email, slack = v.string(m, "email", fld), v.string(m, "slack", fld)
    if email and not is_email(email):
        v.report(
            m["email"].line, f"{fld}.email", f"not an email address: {_shown(email)}{_mailto_hint(email)}"
        )
    if slack and not _SLACK_RE.match(slack):
        v.report(
            m["slack"].line,
            f"{fld}.slack",
            f"expected '#channel-name' or a Slack id (C…, U…, W…), got {slack!r}",
        )
    if not email and not slack:
        v.report(item.line, fld, "needs 'email' or 'slack': where should the digest go?")
    if email and slack:
        v.report(
            m["slack"].line, fld, "give either 'email' or 'slack', not both (use two subscribers for both)"
        )
    profile = _profile_lists(v, m, fld)
    before = len(v.problems)
    likes, texts = _seeds(v, m, fld)
    seeds_reported = len(v.problems) > before  # a wrong like or library: no second problem for it
    trending = _trending(v, m, fld, bool(likes or texts))
    sources = _subscriber_sources(v, m, fld, source_types, trending)
    given = likes or texts or trending or "trending" in m or seeds_reported  # (a wrong trending too)
    if not any(profile[k] for k in ("keywords", "authors", "categories")) and not given:
        if "library" in m:
            named = (v.string(m, "library", fld) or "").strip()
            v.report(
                m["library"].line,
                f"{fld}.library",
                f"{named} holds no papers (no arXiv ids, and no BibTeX entries with a title): the"
                " profile would match nothing"
                if named
                else "names no file: give the path of a .bib or .txt file (relative to this YAML);"
                " the profile would match nothing",
            )
        else:
            v.report(
                item.line,
                fld,
                "empty profile: give keywords, authors, categories, like, library or trending"
                " (it would match nothing)",
            )
    profile.update(
        likes=likes, seed_texts=texts, relevance_floor=_floor(v, m, fld), trending=trending, sources=sources
    )
    schedule = v.string(m, "schedule", fld, base["schedule"])
    v.check(m, "schedule", fld, parse_schedule)
    tz = v.string(m, "timezone", fld, base["timezone"])
    v.check(m, "timezone", fld, settable_timezone)
    max_papers = v.integer(m, "max_papers", fld, base["max_papers"], 1, 1000)
    show_ai_summary = _flag(v, m, "show_ai_summary", fld)
    if len(v.problems) > n or not sid:
        return None
    return Subscriber(
        id=sid,
        profile=Profile(**profile),
        email=email,
        slack=slack,
        schedule=schedule,
        timezone=tz,
        max_papers=max_papers,
        show_ai_summary=show_ai_summary,
    )


def _flag(v: _Validator, m: dict[str, _Value], key: str, fld: str) -> bool:
    """A yes/no key (`true` or `false`); absent is false."""
    node = m.get(key)
    if node is None or node.value is None:
        return False
    if not isinstance(node.value, bool):
        v.report(node.line, f"{fld}.{key}", f"expected true or false, got {node.value!r}")
        return False
    return node.value


PROFILE_LISTS = ("keywords", "exclude", "authors", "categories")


def _profile_lists(v: _Validator, m: dict[str, _Value], fld: str) -> dict[str, tuple[str, ...]]:
    """keywords, exclude, authors and categories, each entry checked: keywords and exclusions
    as `matching.term_problem` checks them (as Slack and the web form do), and no entry may
    hold a control or invisible formatting character. White space (a tab or a line break in a
    quoted entry) is one space, as matching reads it anyway."""
    profile = {}
    keyword_entries: list = []
    for key in PROFILE_LISTS:
        entries = [(where, line, single_spaced(term)) for where, line, term in v.items(m, key, fld)]
        if key in ("keywords", "exclude") and len(entries) > MAX_KEYWORDS:
            v.report(m[key].line, f"{fld}.{key}", f"at most {MAX_KEYWORDS} entries, got {len(entries)}")
        check = {"authors": author_problem, "categories": category_problem}.get(key, term_problem)
        for where, line, term in entries:
            if (problem := check(term)) is not None:
                v.report(line, where, problem)
            elif not isinstance(m[key].value, list) and "," in term:
                v.report(line, where, _unbracketed(key, term))
        # one term to the matcher written twice (`RL`, `rl`) would count twice: the first is kept
        profile[key] = distinct_terms((term for _, _, term in entries), key=entry_key(key))
        if key == "keywords":
            keyword_entries = entries
        elif key == "exclude":
            _excluded_keywords(v, keyword_entries, entries)
    return profile


def _excluded_keywords(v: _Validator, keywords: list, excluded: list) -> None:
    """Report an exclusion that vetoes every paper a keyword matches (`matching.vetoes`: one of
    the keywords, or found in one), so the keyword could never bring one."""
    if not keywords or not excluded:
        return
    followed = {}
    for where, _, term in keywords:
        if term_problem(term) is None:
            followed.setdefault(term_key(term), where.rpartition(".")[2])
    usable = [(where.rpartition(".")[2], term) for where, _, term in keywords if term_problem(term) is None]
    for where, line, term in excluded:
        if term_problem(term) is not None:
            continue
        if keyword := followed.get(term_key(term)):
            v.report(
                line,
                where,
                f"{term!r} is also a keyword ({keyword}): it would leave out every paper the keyword"
                " brings; remove it from one of the two lists",
            )
        elif vetoed := next(((w, k) for w, k in usable if vetoes(term, k)), None):
            v.report(
                line,
                where,
                f"{term!r} leaves out every paper {vetoed[0]} {vetoed[1]!r} brings (it is in the"
                " keyword itself): remove one of the two",
            )


def _unbracketed(key: str, text: str) -> str:
    """For a list key given one text with commas: one entry, the phrase `a, b`, that matches
    what neither `a` nor `b` would."""
    listed = ", ".join(part.strip() for part in text.split(",") if part.strip())
    return (
        f"one entry, {_shown(text)} (YAML reads text with commas as one text): write the list in"
        f' brackets: {key}: [{listed}] (one entry with a comma: {key}: ["{text}"])'
    )


_ENV_VARIABLE_RE = re.compile(r"\$\{?[A-Za-z_]|%[A-Za-z_][A-Za-z0-9_]*%")  # $HOME, ${ZOTERO}, %USERPROFILE%
NOT_EXPANDED = "environment variables such as $HOME are not expanded here: write the path, or ~ for your home"


def names_a_variable(text: str) -> bool:
    """Whether a path is written with an environment variable ($HOME, ${X}, %X%), which
    nothing expands: not the YAML, nor a systemd EnvironmentFile or a .env file."""
    return bool(_ENV_VARIABLE_RE.search(text))


_LIBRARY_URL_RE = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://")


def _seeds(v: _Validator, m: dict[str, _Value], fld: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`like:` (arXiv ids or URLs) and `library:` (a BibTeX or id-list file beside the YAML) as
    liked arXiv ids, plus the title-and-abstract texts of library entries without an id."""
    likes: list[str] = []
    for where, line, ref in v.items(m, "like", fld):
        aid = arxiv_id(ref)
        if aid is None:
            v.report(
                line, where, f"not an arXiv id or URL: {ref[:80]!r}{problem_note(ref)} (e.g. 2303.04137)"
            )
        else:
            likes.append(aid)
    texts: list[str] = []
    path = v.string(m, "library", fld)
    if path and _LIBRARY_URL_RE.match(path):  # as a source's url may be: a library is a file
        v.report(
            m["library"].line,
            f"{fld}.library",
            "a URL: digestbot reads a library from a file, it does not fetch one; export the"
            " collection to a file (Zotero's Better BibTeX keeps an export up to date) and name it",
        )
        return tuple(dict.fromkeys(likes)), ()
    if path:
        file = v.resolve(path)
        v.files.append(file)
        try:
            if file.exists() and not file.is_file():  # a folder, a device or a pipe: never read
                v.report(
                    m["library"].line, f"{fld}.library", f"{file} is not a file: name a .bib or .txt file"
                )
                return tuple(dict.fromkeys(likes)), ()
            size, raw = file.stat().st_size, b""
            if size <= MAX_LIBRARY_BYTES:  # a larger one is not read to find out
                with file.open("rb") as f:
                    raw = f.read(MAX_LIBRARY_BYTES + 1)  # bounded: it may grow while it is read
            if max(size, len(raw)) > MAX_LIBRARY_BYTES:
                v.report(
                    m["library"].line,
                    f"{fld}.library",
                    f"{file} is {max(size, len(raw)) / 2**20:.0f} MB; a library can be at most"
                    f" {MAX_LIBRARY_BYTES // 2**20} MB (export a collection, or one id per line)",
                )
                return tuple(dict.fromkeys(likes)), ()
            seeds = read_library(library_text(raw))  # UTF-8, or as a byte order mark says
        except FileNotFoundError:
            v.report(m["library"].line, f"{fld}.library", f"file not found: {file}{v.relative_note(path)}")
            seeds = []
        except OSError as e:
            v.report(m["library"].line, f"{fld}.library", f"cannot read {file}: {e.strerror or e}")
            seeds = []
        except UnicodeDecodeError as e:
            v.problems.append(
                Problem(
                    str(file),
                    line_at(e.object, e.start),  # e.object: without the BOM, as e.start counts
                    f"{fld}.library",
                    f"not UTF-8 text (byte {e.object[e.start]:#04x}): export or save it as UTF-8"
                    " (Zotero: Character Encoding 'Unicode (UTF-8)')",
                )
            )
            seeds = []
        except LibraryError as e:
            v.problems.append(Problem(str(file), e.line, f"{fld}.library", str(e)))
            seeds = []
        likes += [s.arxiv_id for s in seeds if s.arxiv_id]
        texts += [f"{s.title}. {s.abstract}".strip() for s in seeds if not s.arxiv_id and s.title]
    return tuple(dict.fromkeys(likes)), tuple(dict.fromkeys(texts))


def _floor(v: _Validator, m: dict[str, _Value], fld: str) -> float | None:
    node = m.get("relevance_floor")
    if node is None or node.value is None:
        return None
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        v.report(
            node.line,
            f"{fld}.relevance_floor",
            f"expected a number from 0 to 1, got {value!r}{_number_hint(value)}",
        )
        return None
    return float(value)


def _number_hint(value: object) -> str:
    """How to write a number the YAML holds as text: quoted, with a decimal comma, or with an
    exponent and no dot (YAML reads `1e-3` as text)."""
    if not isinstance(value, str):
        return ""
    try:
        number = float(value.strip().replace(",", "."))
    except ValueError:
        return ""
    if not (math.isfinite(number) and 0 <= number <= 1):
        return ""
    return f" (that is text: write it as {format(Decimal(repr(number)), 'f')}, unquoted)"


def _whole_number_hint(value: object) -> str:
    """How to write a whole number the YAML holds as text (`"10"`, in quotes)."""
    if isinstance(value, str) and is_number(value.strip()):
        return f" (that is text: write it as {int(value.strip())}, unquoted)"
    return ""


def _declared_sources(top: dict[str, _Value]) -> dict[str, str]:
    """Source name -> type as the YAML declares them, valid or not: a subscriber naming a source
    that has a problem of its own gets no second error for it."""
    node = top.get("sources")
    items = node.value if node is not None and isinstance(node.value, list) else []
    found = {}
    for item in items:
        m = item.value if isinstance(item.value, dict) else {}
        name, kind = m.get("name"), m.get("type")
        if name is not None and _text(name) is not None:
            found[_text(name).strip()] = (
                kind.value if kind is not None and isinstance(kind.value, str) else "rss"
            )
    return found


def _trending(v: _Validator, m: dict[str, _Value], fld: str, seeded: bool) -> int | None:
    """`trending: N`: the N most upvoted papers not yet received (with the rest as a filter)."""
    node = m.get("trending")
    if node is None or node.value is None:
        return None
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TRENDING:
        v.report(
            node.line,
            f"{fld}.trending",
            f"expected a number of papers from 1 to {MAX_TRENDING}, got {value!r}{_whole_number_hint(value)}",
        )
        return None
    if seeded:
        v.report(
            node.line,
            f"{fld}.trending",
            "cannot be combined with like or library: a trending digest ranks by upvotes"
            " (use keywords, authors or categories to narrow it)",
        )
        return None
    return value


def _subscriber_sources(
    v: _Validator, m: dict[str, _Value], fld: str, source_types: dict[str, str], trending: int | None
) -> tuple[str, ...]:
    """`sources: [NAME, ...]`: only papers these configured sources reported feed the digest."""
    entries = v.items(m, "sources", fld)
    names = tuple(name for _, _, name in entries)
    node = m.get("sources")
    for where, line, name in entries:
        if name not in source_types:
            known = ", ".join(sorted(source_types)) or "none configured"
            hint = _closest(name, tuple(source_types))
            v.report(
                line,
                where,
                f"no source named {name!r}"
                + (f" (did you mean '{hint}'?)" if hint else "")
                + f"; sources: {known}",
            )
    wanted = names or tuple(source_types)
    if trending and not any(source_types.get(n) == "hf_daily" for n in wanted):
        where = node.line if node is not None and names else m["trending"].line
        v.report(
            where,
            f"{fld}.sources" if names else f"{fld}.trending",
            "trending ranks papers by their Hugging Face upvotes: "
            + ("list an hf_daily source in sources" if names else "configure an hf_daily source"),
        )
    return tuple(dict.fromkeys(names))
