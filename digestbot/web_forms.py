"""The web pages' profile form: what a reader typed into a validated Subscriber, or the errors
to show beside each field. Pure: no I/O, no Flask.

Every field is bounded as `/digest` bounds it (at most READER_MAX_KEYWORDS terms, each checked
by `matching.term_problem` as the YAML and Slack check them; READER_MAX_LIKES liked papers), so
what is accepted here is what a digest can use.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .arxiv_ids import arxiv_id, problem_note, split_refs
from .config import MAX_EMAIL, Config, is_email
from .matching import (
    MAX_TERM_CHARS,
    author_problem,
    category_problem,
    distinct_terms,
    entry_key,
    shared_terms,
    term_problem,
    vetoes,
)
from .models import READER_MAX_KEYWORDS, READER_MAX_LIKES, Profile, Subscriber
from .schedule import ScheduleError, get_timezone, parse_schedule, settable_timezone
from .text import host_name, invisible_problem, is_number, join_terms, shorten, split_terms, unicode_host

MAX_FIELD_CHARS = 6000  # one text area: 50 terms of 100 characters, and separators
MAX_LIKES_CHARS = 60 * READER_MAX_LIKES  # the liked papers as the links a browser copies
MAX_REF_CHARS = 300  # one liked paper's id or link (links pasted from a browser carry queries)
MAX_PAPERS = 100
_LOCAL_PART_RE = re.compile(r"^[^@\s<>\"(),;:\\\[\]\x00-\x1f\x7f]{1,64}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")  # never part of a schedule
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FREQUENCIES = ("daily", "weekdays", *DAYS)  # `weekly DAY` for a day
LIST_FIELDS = ("keywords", "exclude", "authors", "likes")


# Etc/GMT+5 is UTC-5 (POSIX signs): a reader picking "GMT+5" would get digests 10 hours off.
_INVERTED_ZONE_RE = re.compile(r"^Etc/GMT[+-]\d+$")


@lru_cache(maxsize=1)
def timezones() -> tuple[str, ...]:
    """The IANA zones a reader can choose from, sorted (any valid zone is still accepted)."""
    return tuple(
        sorted(
            z
            for z in zoneinfo.available_timezones()
            if ("/" in z or z == "UTC") and not _INVERTED_ZONE_RE.match(z)
        )
    )


def zone_choices(current: str) -> tuple[str, ...]:
    """The zones the timezone field offers, the one in force (`current`) always among them: a
    select without its value shows its first option, which a save would then store."""
    zones = timezones()
    try:
        get_timezone(current)
    except ScheduleError:  # a posted name that is no zone: the field says so
        return zones
    return zones if current in zones else tuple(sorted((*zones, current)))


@dataclass
class FormResult:
    """The form's values as the page shows them again, and either a subscriber or errors."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    subscriber: Subscriber | None = None


def form_values(sub: Subscriber) -> dict[str, str]:
    """A subscriber's profile as the form's fields (the manage page's starting point)."""
    p = sub.profile
    frequency, time = schedule_fields(sub.schedule)
    return {
        "email": sub.email or "",
        "keywords": join_terms(p.keywords),
        "exclude": join_terms(p.exclude),
        "authors": join_terms(p.authors),
        "likes": ", ".join(p.likes),
        "frequency": frequency,
        "time": time,
        "timezone": sub.timezone,
        "max_papers": str(sub.max_papers),
    }


def schedule_fields(spec: str) -> tuple[str, str]:
    """`weekly mon 09:00` -> ('mon', '09:00'); a cron schedule (YAML only) -> ('', '')."""
    words = spec.split()
    if len(words) == 2 and words[0] in ("daily", "weekdays"):
        return words[0], words[1]
    if len(words) == 3 and words[0] == "weekly" and words[1][:3].lower() in DAYS:
        return words[1][:3].lower(), words[2]
    return "", ""


def read_profile(
    form: Mapping[str, str],
    config: Config,
    sid: str,
    email: str | None = None,
    base: Subscriber | None = None,
) -> FormResult:
    """Validate a posted profile form. `email`: the address it is for (None: read it from the
    form, as the sign-up form does). `base`: the subscriber being edited (keeps its state)."""
    # The lists keep what was typed, for the term checks to refuse what the YAML and Slack refuse.
    values = {k: str(form.get(k, ""))[: _field_chars(k)] for k in LIST_FIELDS}
    values.update(
        {k: _CONTROL_RE.sub("", str(form.get(k, "")))[:MAX_FIELD_CHARS] for k in ("frequency", "time")}
    )
    values["email"] = str(form.get("email", ""))[: MAX_EMAIL + 1]
    values["timezone"] = str(form.get("timezone", ""))[:64]
    values["max_papers"] = str(form.get("max_papers", ""))[:6]
    out = FormResult(values)
    if email is None:
        email = read_email(values["email"], out.errors)
    lists = {k: _terms(values[k], k, out.errors) for k in LIST_FIELDS}
    likes = _likes(lists.pop("likes"), out.errors)
    for key in ("keywords", "exclude"):
        for term in lists[key]:
            if key not in out.errors and (problem := term_problem(term)) is not None:
                shown = shorten(term, 40)
                out.errors[key] = (
                    f"Cannot use “{shown}”: {problem}. Use words or phrases; '*' only at the end (robot*)."
                )
    both = (
        []
        if out.errors.keys() & {"keywords", "exclude"}
        else shared_terms(lists["exclude"], lists["keywords"])
    )
    vetoed = [] if both or out.errors.keys() & {"keywords", "exclude"} else _vetoed(lists)
    if both:
        out.errors["exclude"] = (
            f"“{shorten(both[0], 40)}” is also a keyword: it would leave out every paper the"
            " keyword brings. Remove it from one of the two lists."
        )
    elif vetoed:
        excluded, keyword = vetoed[0]
        out.errors["exclude"] = (
            f"“{shorten(excluded, 40)}” would leave out every paper “{shorten(keyword, 40)}” brings"
            " (it is in the keyword itself). Remove one of the two."
        )
    if not (lists["keywords"] or lists["authors"] or likes) and not out.errors.keys() & {
        "keywords",
        "authors",
    }:
        out.errors["keywords"] = "Give at least one keyword, author or liked paper."
    schedule = _schedule(values, out.errors)
    tz = values["timezone"].strip() or config.default_timezone
    try:
        (get_timezone if base and tz == base.timezone else settable_timezone)(tz)  # its own zone stays
    except ScheduleError:
        out.errors["timezone"] = "Choose a timezone from the list."
    max_papers = _max_papers(values["max_papers"], config.default_max_papers, out.errors)
    if out.errors:
        return out
    # What the form does not show (categories, trending... set by an operator) is kept.
    wanted = {
        "keywords": lists["keywords"],
        "exclude": lists["exclude"],
        "authors": lists["authors"],
        "likes": likes,
    }
    profile = replace(base.profile, **wanted) if base else Profile(**wanted)
    when = {"schedule": schedule, "timezone": tz, "max_papers": max_papers}
    out.subscriber = (
        replace(base, profile=profile, **when)
        if base
        else Subscriber(sid, profile, email, origin="web", **when)
    )
    return out


def read_email(text: str, errors: dict[str, str]) -> str:
    """An address as stored (in NFC, RFC 6532 3.1: one address, one form; the domain in lower
    case, its IDNA labels as the letters they stand for: `xn--mller-kva.example` is
    `müller.example`), or '' with an error noted."""
    text = unicodedata.normalize("NFC", text.strip())
    local, _, domain = text.rpartition("@")
    host = host_name(domain)  # a host name, with a top level, in either spelling
    email = f"{local}@{unicode_host(host)}" if local and host else text
    if host is None or not is_email(email) or not _LOCAL_PART_RE.match(local):
        errors["email"] = "Enter an email address such as ada@uni.example."
        return ""
    return email


# Providers that ignore dots in the local part (ada.lovelace@ is adalovelace@).
_DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def mailbox_key(email: str) -> str:
    """The mailbox an address reaches, for counting per-address limits: case, surrounding
    spaces and a `+tag` (and Gmail's dots) do not make another mailbox, so variants of one
    address share its limits. Never used to deliver: mail goes to the address as typed."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in _DOTLESS_DOMAINS:
        domain, local = "gmail.com", local.replace(".", "")
    return f"{local}@{domain}"


def client_key(address: str) -> str:
    """The client a request address stands for, for counting per-client limits: an IPv6 host
    is given a whole /64 (rotating the rest is no new client), an IPv4-mapped IPv6 address is
    its IPv4 address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


_ENTRY_PROBLEM = {  # else invisible_problem
    "authors": author_problem,
    "categories": category_problem,
    # an id with a character that prints nothing copied along is that id (`arxiv_id`)
    "likes": lambda ref: None if arxiv_id(ref) else invisible_problem(ref),
}


def _vetoed(lists: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """(exclusion, keyword) where the exclusion leaves out every paper the keyword brings."""
    return [(e, k) for e in lists["exclude"] for k in lists["keywords"] if vetoes(e, k)]


def _field_chars(key: str) -> int:
    """How long a list field may be (what its `maxlength` lets a browser send)."""
    return MAX_LIKES_CHARS if key == "likes" else MAX_FIELD_CHARS


def _terms(text: str, key: str, errors: dict[str, str]) -> tuple[str, ...]:
    if len(text) >= _field_chars(key):  # as long as maxlength: a browser may have cut a paste
        errors[key] = f"At most {_field_chars(key)} characters."
        return ()
    if key == "likes":  # ids and links, which hold no spaces: separated by spaces too
        terms, limit, longest = tuple(dict.fromkeys(split_refs(text))), READER_MAX_LIKES, MAX_REF_CHARS
    else:
        terms = distinct_terms(
            split_terms(text.replace("\r", "").replace("\n", ",")),
            key=entry_key(key),
        )
        limit, longest = READER_MAX_KEYWORDS, MAX_TERM_CHARS
    if len(terms) > limit:
        errors[key] = f"At most {limit} entries."
        return terms
    if key in ("keywords", "exclude"):  # each term is checked by `term_problem` (read_profile)
        return terms
    if any(len(t) > longest for t in terms):
        errors[key] = f"Each entry can be at most {longest} characters."
    elif problem := next(filter(None, map(_ENTRY_PROBLEM.get(key, invisible_problem), terms)), None):
        errors[key] = f"An entry {problem}."
    return terms


def _likes(refs: tuple[str, ...], errors: dict[str, str]) -> tuple[str, ...]:
    ids = []
    for ref in refs:
        aid = arxiv_id(ref)
        if aid is None:
            errors.setdefault(
                "likes", f"Not an arXiv id or link: {ref[:60]}{problem_note(ref)} (e.g. 2303.04137)."
            )
        else:
            ids.append(aid)
    return tuple(dict.fromkeys(ids))


def _schedule(values: dict[str, str], errors: dict[str, str]) -> str:
    frequency, time = values["frequency"].strip() or "daily", values["time"].strip() or "08:00"
    if frequency not in FREQUENCIES:
        errors["frequency"] = "Choose how often."
        return ""
    if not _TIME_RE.match(time):
        errors["time"] = "Enter a time as HH:MM, e.g. 08:00."
        return ""
    spec = f"{frequency} {time}" if frequency in ("daily", "weekdays") else f"weekly {frequency} {time}"
    parse_schedule(spec)  # built from checked parts: cannot fail
    return spec


def _max_papers(text: str, default: int, errors: dict[str, str]) -> int:
    text = text.strip()
    if not text:
        return min(default, MAX_PAPERS)
    if not is_number(text) or not 1 <= int(text) <= MAX_PAPERS:
        errors["max_papers"] = f"A number from 1 to {MAX_PAPERS}."
        return default
    return int(text)
