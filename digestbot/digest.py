"""Digest orchestration: who is due, which papers are new to them, match, render, deliver, record.

The ledger rules (DESIGN.md, "Delivery rules"):
- a digest holds the matching papers that arrived (by ingestion order) after the subscriber's
  watermark, so nothing is sent twice and nothing is lost to downtime;
- a new subscriber's first digest reaches back one day;
- a digest is recorded as pending (with its papers, and the watermark moved) in one transaction
  *before* it is sent, and marked sent once the transport accepted it; a failed send stays
  pending and is retried with backoff, then given up after RETRY_LIMIT and reported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from .config import Config, Env
from .delivery import DeliveryError
from .delivery.email import OutboxTransport, SmtpSettings, SmtpTransport
from .delivery.message import OutgoingEmail, build_email, make_message_id
from .delivery.slack import SlackTransport, block_kit_problem
from .leases import LeaseKeeper
from .library import title_key, title_keys
from .links import feedback_url, manage_url, unsubscribe_url
from .matching import (
    BestMatches,
    Matcher,
    Matches,
    PaperText,
    compile_profile,
    fed_by,
    match_trending,
    passes_filters,
    rank,
)
from .models import Digest, Match, Paper, Profile, Subscriber
from .rates import SharedRates
from .render import Renderer, template_problem
from .schedule import ScheduleError, get_timezone, is_due, parse_schedule, ran_ahead
from .store import (
    MAX_UNCONFIRMED,
    ClaimLost,
    DigestItem,
    DigestRecord,
    Store,
    StoreError,
    StoreWriteError,
    SubscriberState,
    now_utc,
)

log = logging.getLogger(__name__)

FIRST_DIGEST_REACH = timedelta(days=1)
# A trending digest chooses among the papers whose upvotes were reported in the last week (or
# since the previous digest, if that is longer ago), never before the day before subscribing.
TRENDING_WINDOW = timedelta(days=7)
RETRY_LIMIT = timedelta(hours=24)
FIRST_RETRY = timedelta(minutes=5)
MAX_RETRY_WAIT = timedelta(hours=2)
CLAIM_BATCH = 250  # subscribers a worker claims at a time: small enough to share a backlog evenly


def retry_delay(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failures: 5 min, 10, 20 ... at most 2 h."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY_WAIT)


@dataclass(frozen=True)
class Outcome:
    """What happened to one subscriber's digest in a run."""

    subscriber_id: str
    status: str  # sent | failed | given-up | cancelled | empty | dry-run | stopped (left for the next run)
    papers: int = 0
    matched: int = 0
    destination: str = ""
    error: str | None = None
    digest_id: int | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "given-up")


class Deliverer:
    """Turns a digest into a message for its channel and hands it to the right transport.

    Email goes over SMTP when DIGESTBOT_SMTP_URL is set, Slack through the Web API when
    SLACK_BOT_TOKEN is set; otherwise either goes into the outbox folder (.eml / .slack.json).
    Transports open on first use and stay open for the batch (one SMTP connection per run).
    """

    def __init__(self, config: Config, env: Env, renderer: Renderer):
        self.config = config
        self.env = env
        self.renderer = renderer
        self.rates: SharedRates | None = None  # set by DigestRunner: limits shared by every worker
        self.shared = False  # several workers: Slack's per-channel pace is shared too
        self.clock: Callable[[], datetime] = now_utc  # set by DigestRunner: the run's clock
        self.should_stop: Callable[[], bool] = lambda: False  # set by DigestRunner.run: a stop asked for
        self._smtp: SmtpTransport | None = None
        self._slack: SlackTransport | None = None
        self._outbox = OutboxTransport(env.outbox)

    def channel(self, sub: Subscriber) -> str:
        if sub.email:
            return "email" if self.env.smtp_url else "outbox"
        return "slack" if self.env.slack_bot_token else "outbox"

    def destination(self, sub: Subscriber) -> str:
        return sub.email or sub.slack or ""

    def composed(self, digest: Digest) -> tuple[OutgoingEmail | list[dict], int]:
        """The finished message(s) and how many of the digest's papers they show (an email cut
        to stay under Gmail's clip shows fewer); raises DeliveryError on a template error."""
        sub = digest.subscriber
        try:
            if not sub.email:
                return self.renderer.slack(digest, **self.links(sub)), len(digest.matches)
            parts = self.renderer.email(digest, **self.links(sub))
        except Exception as e:  # jinja2.TemplateError, or whatever a template's expression raised
            # The operator's mistake, not the digest's: kept (and retried with backoff) so
            # that fixing the template delivers it. `check`, `send` and the worker test the
            # templates first, so this is a template that fails only on some paper's data.
            where = "digest.slack.json" if not sub.email else "digest.html"
            problem = f"{template_problem(e, where)}; fix the template (digestbot check)"
            raise DeliveryError(problem) from None
        created = digest.created or now_utc()
        message = build_email(
            parts,
            sender=self.config.email_from,
            to=sub.email,
            message_id=digest.message_id or make_message_id(sub.id, created, self.config.email_from),
            # When it goes out, not when first tried: a retry hours later dated then is mail
            # "from the past" to spam filters (DATE_IN_PAST_03_06). The Message-ID stays.
            date=self.clock(),
            unsubscribe=self.unsubscribe_targets(sub),
            one_click=self.unsubscribe_link(sub) is not None,
        )
        return message, parts.shown

    def deliver(
        self,
        digest: Digest,
        on_part: Callable[[int], None] | None = None,
        message: OutgoingEmail | list[dict] | None = None,
    ) -> str:
        """Compose (unless `message` is the one composed already) and send one digest; returns
        where it went. Raises DeliveryError.

        A Slack digest may be several messages: `on_part(n)` is told after each one, and a retry
        starts after the `digest.parts_sent` already delivered, so none is posted twice.
        """
        return self._send_message(digest, self.composed(digest)[0] if message is None else message, on_part)

    def take_turn(self, digest: Digest) -> bool:
        """Wait for an email digest's turn under DIGESTBOT_SMTP_RATE (the relay's rate, shared by
        every worker), before its attempt is recorded: a worker killed while waiting has sent
        nothing, and the digest counts no attempt. False: a stop came first (the digest waits
        for the next run, untried)."""
        if not (digest.subscriber.email and self.env.smtp_url and self.rates and self.env.smtp_rate):
            return True
        try:
            if self.smtp().unavailable:
                return True  # no wait to fail
        except DeliveryError:
            return True  # the send says why
        return self.rates.wait("smtp", self.env.smtp_rate, should_stop=self.should_stop)

    def _send_message(
        self, digest: Digest, message: OutgoingEmail | list[dict], on_part: Callable[[int], None] | None
    ) -> str:
        sub = digest.subscriber
        if isinstance(message, OutgoingEmail):
            if self.env.smtp_url:  # its turn under DIGESTBOT_SMTP_RATE taken first (take_turn)
                return self.smtp().send(message)
            return self._outbox.send(message, _outbox_stem(digest))
        if self.env.slack_bot_token:
            return self.slack().send(sub.slack or "", message, start=digest.parts_sent, on_part=on_part)
        payload = {"channel": sub.slack, "messages": message}
        return str(
            self._outbox.write(_outbox_stem(digest), json.dumps(payload, indent=2).encode(), ".slack.json")
        )

    def unsubscribe_link(self, sub: Subscriber) -> str | None:
        """The signed one-click link, when DIGESTBOT_BASE_URL and DIGESTBOT_SECRET are set."""
        if self.env.base_url and self.env.secret:
            return unsubscribe_url(self.env.base_url, sub.id, self.env.secret)
        return None

    def links(self, sub: Subscriber) -> dict:
        """Signed links for the templates: one-click unsubscribe, "Manage your digest" (email
        digests, when the YAML turns the web pages on) and, per paper, thumbs up/down (all need
        DIGESTBOT_BASE_URL and DIGESTBOT_SECRET: the web app answers them). A trending digest
        ranks by upvotes, which no rating moves: it offers no thumbs."""
        if not (self.env.base_url and self.env.secret):
            return {"unsubscribe_url": None, "manage_url": None}
        base, secret = self.env.base_url, self.env.secret
        links = {
            "unsubscribe_url": self.unsubscribe_link(sub),
            "manage_url": manage_url(base, sub.id, secret) if self.config.web and sub.email else None,
        }
        if not sub.profile.trending:
            links["feedback_link"] = lambda key, vote: feedback_url(base, sub.id, key, vote, secret)
        return links

    def unsubscribe_targets(self, sub: Subscriber) -> list[str]:
        targets = [link] if (link := self.unsubscribe_link(sub)) else []
        if self.config.unsubscribe_mailto:
            targets.append(f"mailto:{self.config.unsubscribe_mailto}?subject=unsubscribe%20{sub.id}")
        return targets

    def smtp(self) -> SmtpTransport:
        if self._smtp is None:
            try:
                settings = SmtpSettings.from_url(self.env.smtp_url or "")
                self._smtp = SmtpTransport(settings, timeout=self.env.smtp_timeout)
            except ValueError as e:  # a malformed DIGESTBOT_SMTP_URL
                raise DeliveryError(str(e)) from None
        return self._smtp

    def slack(self) -> SlackTransport:
        if self._slack is None:
            self._slack = SlackTransport(self.env.slack_bot_token or "", self.env.slack_api_url)
            self._slack.should_stop = lambda: self.should_stop()
            if self.rates and (self.shared or self.env.slack_rate):
                self._slack.shared_pace = self._pace_slack
        return self._slack

    def _pace_slack(self, channel: str) -> None:
        """Slack's one message a second per channel, and the workspace ceiling, for all workers."""
        assert self.rates is not None and self._slack is not None
        self.rates.space(f"slack:{channel}", self._slack.interval)
        if self.env.slack_rate:
            self.rates.wait("slack", self.env.slack_rate)

    def close(self) -> None:
        """End of a run: the transports' circuit breakers hold for one run only (a worker's
        Slack transport lives on, keeping the DM channels it opened)."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None
        if self._slack is not None:
            self._slack.close()


def _outbox_stem(digest: Digest) -> str:
    created = digest.created or now_utc()
    who = re.sub(r"[^A-Za-z0-9._-]", "_", digest.subscriber.id)
    return f"{created:%Y%m%d-%H%M%S}-{who}-{digest.id or 'preview'}"


@dataclass
class Selection:
    """For each selected subscriber, the best matches (ranked, at most max_papers) and how many
    papers matched in all, up to the paper `seq_to`."""

    seq_to: int
    best: dict[str, list[Match]]
    matched: dict[str, int]


class _Best:
    """A subscriber's best `keep` matches and a count of all (from `BestMatches`, or from the
    ranking by seeds)."""

    __slots__ = ("count", "keep", "matches")

    def __init__(self, keep: int):
        self.keep, self.count, self.matches = keep, 0, []

    def take(self, matches: list[Match], total: int) -> None:
        """A ranking made elsewhere (seeded subscribers): its best, and how many it counted."""
        self.matches, self.count = matches[: self.keep], total

    def ranked(self) -> list[Match]:
        return rank(self.matches)[: self.keep]


def make_renderer(templates) -> Renderer:
    """The renderer runs use: the user's templates, Slack messages checked by slack-sdk's
    Block Kit models before any part is posted."""
    return Renderer(templates, block_kit_problem=block_kit_problem)


class DigestRunner:
    """Builds and delivers digests for the subscribers who are due."""

    def __init__(
        self,
        store: Store,
        config: Config,
        env: Env,
        renderer: Renderer | None = None,
        deliverer: Deliverer | None = None,
        clock: Callable[[], datetime] = now_utc,
        refresh: Callable[[list[str]], object] | None = None,
        shared: bool | None = None,
        unsynced: Sequence[Subscriber] | None = None,
    ):
        self.store = store
        # A dry run or preview on the YAML as read, not written into the store (Store.as_synced):
        # a dry run records nothing, and syncing another YAML would deactivate subscribers.
        self.unsynced = unsynced
        self.config = config
        self.env = env
        self.renderer = renderer or make_renderer(config.templates)
        self.deliverer = deliverer or Deliverer(config, env, self.renderer)
        self.clock = clock
        # Fetches the named sources again (if not fetched a moment ago) before trending digests
        # are built, so they rank by current upvotes. None: no re-fetch (tests, preview).
        self.refresh = refresh
        self._feeds: dict[str, frozenset[str]] = {}
        self._reached: dict[str, set[int]] = {}  # revised papers of the window each one has had
        self._handed_over: dict[str, list[str]] | None = None  # read once a run (Store.handed_over)
        # Several workers on one database (PostgreSQL, or `run --processes N`): each claims the
        # subscribers it works on, BATCH at a time, for a lease it renews while working.
        self.shared = store.backend == "postgresql" if shared is None else shared
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = timedelta(seconds=env.lease)
        self.batch = CLAIM_BATCH
        # Renews the claims while a batch works: one delivery can outlast the lease (a slow SMTP
        # server, Slack's Retry-After), and a claim run out meanwhile let another worker take the
        # subscriber and send the digest in flight again.
        self._keeper = LeaseKeeper(
            store.target,
            lambda s: s.renew_claims(self.worker_id, clock(), self.lease),
            self.lease,
            "this worker's claims",
        )
        self._read: tuple[int, int, list[Paper]] | None = None
        self._filled: dict[tuple[int, int], list[Paper]] = {}  # _background's, during a run
        self.deliverer.rates = SharedRates(store)
        self.deliverer.clock = clock
        self.deliverer.shared = self.shared

    @property
    def lease_holder(self) -> str | None:
        """Who holds this worker's leases (fetches, claims) when the database is shared; None
        with one worker, which needs none."""
        return self.worker_id if self.shared else None

    # --- who and what ---------------------------------------------------------------------

    def due(
        self, now: datetime, only: set[str] | None = None, force: bool = False, dry_run: bool = False
    ) -> list[SubscriberState]:
        """Active, unpaused subscribers whose schedule has come round (all of them with `force`),
        leaving out those whose previous digest is still waiting to be delivered."""
        waiting = self.store.pending_subscribers()
        out = []
        for state in self._states(only):
            sub = state.subscriber
            if sub.paused or sub.id in waiting:
                continue
            try:
                schedule, tz = parse_schedule(sub.schedule), get_timezone(sub.timezone)
            except ScheduleError as e:  # stored by an older version or a hand edit: skip, say so
                log.warning("subscriber %s skipped: %s", sub.id, e)
                continue
            last, moved = state.last_run_at, state.schedule_moved
            if last is not None and not dry_run and ran_ahead(schedule, tz, last, moved, now):
                # Recorded while the clock ran ahead, or before it was set back: counted as run
                # now from here on, or the next digest would wait until the clock caught up.
                log.warning(
                    "subscriber %s: last digest recorded at %s UTC, ahead of the clock; counted as now",
                    sub.id,
                    f"{last:%Y-%m-%d %H:%M}",
                )
                self.store.pull_back_run(sub.id, last, now)
            if force or is_due(schedule, tz, last, now, moved=moved):
                out.append(state)
        return out

    def has_work(self, now: datetime) -> bool:
        """Whether a run now would send anything: a retry whose wait is over, or someone due."""
        return bool(self.store.retryable_digests(now)) or bool(self.due(now))

    def select(self, states: list[SubscriberState], now: datetime) -> Selection:
        """Match every paper new to any of these subscribers, once, against all their profiles.

        "New" is by revision: a paper a later report changed (a fuller abstract, categories)
        is matched again, except for the subscribers who already received it."""
        seq_to = self.store.max_rev()
        self._feeds = {s.subscriber.id: frozenset(s.subscriber.profile.sources) for s in states}
        trending = [s for s in states if s.subscriber.profile.trending]
        states = [s for s in states if not s.subscriber.profile.trending]
        picked = self._select_trending(trending, seq_to, now) if trending else {}
        if not states:
            return Selection(
                seq_to, {sid: b for sid, (b, _) in picked.items()}, {sid: n for sid, (_, n) in picked.items()}
            )
        first_starts: dict[frozenset[str], int] = {}  # by the sources their readers take
        starts = {}
        for state in states:
            sid = state.subscriber.id
            if state.last_seq is None:
                feeds = self._feeds[sid]
                if feeds not in first_starts:
                    first_starts[feeds] = self.store.last_rev_before(
                        first_digest_reach(self.store, now, feeds)
                    )
                starts[sid] = first_starts[feeds]
            else:
                starts[sid] = state.last_seq
        matcher = Matcher({s.subscriber.id: s.subscriber.profile for s in states})
        found = {s.subscriber.id: _Best(s.subscriber.max_papers) for s in states}
        ratings = self.store.feedback(starts, self._formers())
        seeded = {
            s.subscriber.id: s
            for s in states
            if _ranks_by_seeds(s.subscriber.profile, ratings[s.subscriber.id])
        }
        window: list[Paper] = []
        keyword: dict[str, dict[str, Match]] = {sid: {} for sid in seeded}
        ids = matcher.ids
        start = np.array([starts[sid] for sid in ids], dtype=np.int64)
        is_seeded = np.array([sid in seeded for sid in ids], dtype=bool)
        best = BestMatches(np.array([found[sid].keep for sid in ids], dtype=np.int64))
        vetoed: dict[str, set[str]] = {sid: set() for sid in seeded}  # papers their exclusions veto
        for batch in matcher.match_stream(self._window(min(starts.values()), seq_to)):
            if seeded:
                window.extend(batch.papers)
                pairs = matcher.vetoed(batch)
                for row, index in zip(pairs.row.tolist(), pairs.col.tolist(), strict=True):
                    if is_seeded[index]:
                        vetoed[ids[index]].add(batch.papers[row].key)
            new = self._new_in(batch, start)
            best.add(batch, new & ~is_seeded[batch.profiles])
            # for the seeded, categories filter, never match alone: only keyword or author matches
            for k in np.flatnonzero(new & is_seeded[batch.profiles] & ~matcher.category_only[batch.profiles]):
                match = batch.match(int(k))
                keyword[ids[batch.profiles[k]]][match.paper.key] = match
        ranked = best.best(ids)
        for index, sid in enumerate(ids):
            if sid not in seeded:
                found[sid].take(ranked.get(sid, []), int(best.counts[index]))
        if seeded:
            self._rank_by_seeds(seeded, window, keyword, vetoed, starts, ratings, matcher, found)
        shown = {sid: b.ranked() for sid, b in found.items()}
        matched = {sid: b.count for sid, b in found.items()}
        for sid, (mine, total) in picked.items():
            shown[sid], matched[sid] = mine, total
        return Selection(seq_to, shown, matched)

    def _new_in(self, batch: Matches, start: np.ndarray) -> np.ndarray:
        """Which of a batch's matches are new to their subscriber (see `_new_to`), as a mask."""
        revs = np.array([p.rev for p in batch.papers], dtype=np.int64)
        new = revs[batch.rows] > start[batch.profiles]
        feeds = [self._feeds.get(sid, frozenset()) for sid in batch.matcher.ids]
        for wanted in set(feeds) - {frozenset()}:  # subscribers who take only some sources
            fed = np.array([fed_by(p, wanted) for p in batch.papers], dtype=bool)
            theirs = np.array([f == wanted for f in feeds], dtype=bool)[batch.profiles]
            new[theirs] &= fed[batch.rows[theirs]]
        revised = np.array([p.revised for p in batch.papers], dtype=bool)
        check = np.flatnonzero(new & revised[batch.rows]).tolist()
        if check:  # a new version of a paper: new only to those who never received it
            seqs = [batch.papers[row].seq for row in batch.rows[check].tolist()]
            ids = batch.matcher.ids
            had = self.store.received_among(
                seqs, {ids[i] for i in batch.profiles[check].tolist()}, self._formers()
            )
            for k, seq in zip(check, seqs, strict=True):
                new[k] = seq not in had.get(ids[batch.profiles[k]], ())
        return new

    def _formers(self) -> dict[str, list[str]]:
        """`Store.handed_over`, read once for a run (or a preview): hand-overs happen at sync."""
        if self._handed_over is None:
            self._handed_over = self.store.handed_over()
        return self._handed_over

    def _window(self, start: int, upto: int) -> Iterable[Paper]:
        """Papers with rev in (start, upto]. During a run, the batches of claimed subscribers
        share what an earlier batch read, instead of reading the window once per batch."""
        if self._read is None:
            return self.store.papers_after(start, upto)
        first, last, papers = self._read
        if last != upto or first > start:
            papers = list(self.store.papers_after(start, upto))
            self._read = (start, upto, papers)
            return papers
        return [p for p in papers if p.rev > start]

    def _new_to(self, sid: str, paper: Paper, starts: dict[str, int]) -> bool:
        if not fed_by(paper, self._feeds.get(sid, frozenset())):
            return False
        return paper.rev > starts[sid] and not (paper.revised and paper.seq in self._reached.get(sid, ()))

    def _select_trending(
        self, states: list[SubscriberState], seq_to: int, now: datetime
    ) -> dict[str, tuple[list[Match], int]]:
        """For each trending subscriber, the `trending` most upvoted papers of their pool (listed
        since `trending_since`, never received, up to `seq_to`) that pass the profile, and how
        many in the pool did. The watermark plays no part: a paper passed over yesterday is
        still a candidate today. The pool is read and matched once for all of them."""
        since = {s.subscriber.id: trending_since(s, now) for s in states}
        pool = self.store.trending_pool(min(since.values()), seq_to)
        listed = {paper.key: when for paper, when in pool}
        received = self.store.received_among((paper.seq for paper, _ in pool), since, self._formers())
        matches = match_trending(
            {s.subscriber.id: s.subscriber.profile for s in states}, (p for p, _ in pool)
        )
        picked = {}
        for state in states:
            sid, had = state.subscriber.id, received.get(state.subscriber.id, set())
            mine = [m for m in matches[sid] if listed[m.paper.key] >= since[sid] and m.paper.seq not in had]
            picked[sid] = (mine[: state.subscriber.profile.trending], len(mine))
        return picked

    def trending_sources(self, states: list[SubscriberState]) -> list[str]:
        """The upvote lists (hf_daily sources) that feed these subscribers' trending digests."""
        names: dict[str, None] = {}
        for state in states:
            profile = state.subscriber.profile
            if profile.trending:
                for source in self.config.sources:
                    if source.type == "hf_daily" and (not profile.sources or source.name in profile.sources):
                        names[source.name] = None
        return list(names)

    def _rank_by_seeds(
        self,
        seeded: dict[str, SubscriberState],
        window: list[Paper],
        keyword: dict[str, dict[str, Match]],
        vetoed: dict[str, set[str]],
        starts: dict[str, int],
        ratings: dict[str, dict[str, int]],
        matcher: Matcher,
        found: dict[str, _Best],
    ) -> None:
        """Rank the window for subscribers with liked papers or ratings: features are computed
        once for the window and every seed, then each subscriber's ranking is a product."""
        from . import relevance  # scikit-learn takes a second to import: only when needed

        # revised papers already in one of their digests (or their inbox's): never new again
        self._reached = self.store.received_among(
            (p.seq for p in window if p.revised), seeded, self._formers()
        )
        like_keys = {f"arxiv:{a}" for s in seeded.values() for a in s.subscriber.profile.likes}
        rated_keys = {k for sid in seeded for k in ratings[sid]}
        stored = {p.key: p for p in self.store.papers_by_keys(like_keys | rated_keys)}
        texts = {p.key: relevance.paper_text(p.title, p.abstract) for p in window}
        for p in self._background(min(starts.values()), IDF_PAPERS - len(window)):
            texts.setdefault(p.key, relevance.paper_text(p.title, p.abstract))  # never ranked
        texts.update({k: relevance.paper_text(p.title, p.abstract) for k, p in stored.items()})
        for s in seeded.values():
            texts.update({relevance.text_key(t): t for t in s.subscriber.profile.seed_texts})
        features = relevance.Features.fit(texts)
        rated_terms: dict[str, dict[str, tuple[str, ...]]] = {sid: {} for sid in seeded}
        rated = [stored[k] for k in sorted(rated_keys & stored.keys())]
        for sid, m in matcher.match_batch(rated):  # the keywords each reader's ratings carry
            if sid in rated_terms and m.paper.key in ratings[sid]:
                rated_terms[sid][m.paper.key] = m.terms
        index_of = {sid: i for i, sid in enumerate(matcher.ids)}
        shared = relevance.Window.of(features, window)
        queries = dict(
            zip(
                seeded,
                features.queries([s.subscriber.profile.keywords for s in seeded.values()]),
                strict=True,
            )
        )
        titled = {}
        if any(s.subscriber.profile.seed_texts for s in seeded.values()):  # liked papers of any age too
            titled = {**_by_title(stored[k] for k in like_keys if k in stored), **_by_title(window)}
        filters = _WindowFilters(shared, matcher, self._feeds, self._reached)
        for sid, state in seeded.items():
            profile = state.subscriber.profile
            liked = [stored[f"arxiv:{a}"] for a in profile.likes if f"arxiv:{a}" in stored]
            owned = _library_papers(profile.seed_texts, titled)
            keys = {p.key for p in liked}
            liked += [p for p in dict.fromkeys(owned.values()) if p.key not in keys]
            texts = tuple(t for t in profile.seed_texts if t not in owned)
            skip = {p.key for p in liked} | set(ratings[sid])  # a liked paper never comes as new
            allowed = filters.allowed(sid, profile, index_of.get(sid), skip, vetoed.get(sid, ()))
            seeds = relevance.Seeds(
                tuple(liked),
                texts,
                ratings[sid],
                {k: stored[k] for k in ratings[sid] if k in stored},
            )
            found[sid].take(
                *relevance.rank_seeded(
                    shared,
                    starts[sid],
                    {k: m for k, m in keyword[sid].items() if k not in skip},
                    allowed,
                    features,
                    seeds,
                    profile.keywords,
                    profile.relevance_floor
                    if profile.relevance_floor is not None
                    else relevance.DEFAULT_FLOOR,
                    rated_terms[sid],
                    explain=state.subscriber.max_papers,
                    query=queries[sid],
                )
            )

    def _background(self, start: int, wanted: int) -> list[Paper]:
        """Up to `wanted` papers stored before the window (rev at most `start`, the newest), to
        fit the features on: a day of a handful of papers is no corpus to weigh words by."""
        if wanted <= 0 or start <= 0:
            return []
        if self._read is not None and (start, wanted) in self._filled:  # a run's later batch
            return self._filled[start, wanted]
        papers = list(self.store.papers_after(max(0, start - wanted), start))
        if self._read is not None:
            self._filled[start, wanted] = papers
        return papers

    def _states(self, only: set[str] | None = None) -> list[SubscriberState]:
        """The active subscribers (only those in `only`, if given), as stored or, for a dry run,
        as the YAML read (`unsynced`) would make them."""
        if self.unsynced is None:
            return self.store.subscribers(ids=only)
        return [s for s in self.store.as_synced(self.unsynced) if only is None or s.subscriber.id in only]

    def preview(self, sid: str, now: datetime | None = None) -> Digest | None:
        """The digest `sid` would get if it were sent now; records nothing."""
        now = now or self.clock()
        state = next(iter(self._states({sid})), None)
        if state is None:
            return None
        waiting = self.store.retryable_digests(None, subscriber_ids=[sid])
        if waiting:  # sent before any new one is built, with the papers it was recorded with
            return self._recorded(waiting[0], state.subscriber)
        self._handed_over = None  # as of now
        selection = self.select([state], now)
        return Digest(state.subscriber, selection.best[sid], selection.matched[sid], created=now)

    # --- a run ----------------------------------------------------------------------------

    def run(
        self,
        only: set[str] | None = None,
        force: bool = False,
        dry_run: bool = False,
        on_done: Callable[[Outcome], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[Outcome]:
        """Retry digests whose wait is over, then build and send the ones that are due.

        `should_stop` is asked before each digest: a stopping worker finishes the digest in
        flight and leaves the rest for its next start (they are still due then).
        """
        now = self.clock()
        outcomes: list[Outcome] = []
        self._handed_over = None  # read once in this run, when first needed
        self.deliverer.should_stop = should_stop  # a Slack Retry-After wait, a rate slot's, end at a stop

        def done(outcome: Outcome) -> None:
            outcomes.append(outcome)
            _log_outcome(outcome)
            if on_done:
                on_done(outcome)

        try:
            if dry_run:
                for record in self.store.retryable_digests(None if force else now, only):
                    if (outcome := self._dry_retry(record)) is not None:
                        done(outcome)
                states = self.due(now, only, force, dry_run=True)
                selection = self.select(states, now)
                for state in states:
                    if should_stop():
                        break
                    done(self._build_and_send(state, selection, now, dry_run))
                return outcomes
            for digest_id in self.store.hold_unconfirmed(now):
                log.error(
                    "digest %s: %d attempts without a recorded outcome; it may have arrived, so it is"
                    " not sent again (see `digestbot status`)",
                    digest_id,
                    MAX_UNCONFIRMED,
                )
            retrying = [r.subscriber_id for r in self.store.retryable_digests(None if force else now)]
            due_states = self.due(now, only, force)
            if self.refresh and (names := self.trending_sources(due_states)):
                self.refresh(names)  # once for the run, before any batch is built
                now = self.clock()
            due = [s.subscriber.id for s in due_states]
            waiting = [sid for sid in dict.fromkeys(retrying + due) if not only or sid in only]
            batch = self.batch if self.shared else max(len(waiting), 1)
            self._read = (0, -1, [])  # batches share the papers read (see _window, _background)
            self._filled = {}
            for i in range(0, len(waiting), batch):
                if self._run_batch(waiting[i : i + batch], now, force, done, should_stop):
                    break
        finally:
            self._read = self._handed_over = None
            self._filled = {}
            self.deliverer.close()
        return outcomes

    def _run_batch(
        self,
        sids: list[str],
        now: datetime,
        force: bool,
        done: Callable[[Outcome], None],
        should_stop: Callable[[], bool],
    ) -> bool:
        """Retries, then due digests, of these subscribers: with several workers, of those this
        worker could claim (the others are another worker's now). Returns whether to stop."""
        mine = self._claim(sids)
        if not mine:
            return should_stop()
        try:
            with self._keeper if self.shared else contextlib.nullcontext():
                for record in self.store.retryable_digests(None if force else now, subscriber_ids=mine):
                    if should_stop():
                        return True
                    done(self._retry(record.id))
                # Read again, after the claim: another worker may have sent these a moment ago.
                states = self.due(now, set(mine), force)
                selection = self.select(states, now)
                for state in states:
                    if should_stop():
                        return True
                    done(self._build_and_send(state, selection, now, False))
        except ClaimLost as e:  # the lease ran out unrenewed: the rest may be another worker's now
            log.warning(
                "%s (it could not be renewed in time); the rest of this batch of %d is left to whoever"
                " claims it now",
                e,
                len(mine),
            )
        finally:
            self._release(mine)
        return False

    # --- several workers ------------------------------------------------------------------

    def _claim(self, sids: list[str]) -> list[str]:
        if not self.shared:
            return sids  # one worker (the sender lock keeps others out): nothing to claim
        return self.store.claim_subscribers(sids, self.worker_id, self.clock(), self.lease)

    @property
    def _holder(self) -> str | None:
        """Whose claim the ledger's writes for a subscriber need (None: one worker, no claims)."""
        return self.worker_id if self.shared else None

    def _release(self, sids: list[str]) -> None:
        if not self.shared:
            return
        try:
            self.store.release_subscribers(sids, self.worker_id)
        except StoreError as e:  # the database went away: the leases expire by themselves
            log.warning(
                "could not release %d claimed subscriber(s): %s; they free up in %s", len(sids), e, self.lease
            )

    def _build_and_send(
        self, state: SubscriberState, selection: Selection, now: datetime, dry_run: bool
    ) -> Outcome:
        sub = state.subscriber
        shown = selection.best.get(sub.id, [])
        matched = selection.matched.get(sub.id, 0)
        if not shown:
            if not dry_run:
                self.store.advance(sub.id, selection.seq_to, now)
            return Outcome(sub.id, "empty")
        if dry_run:
            _, n = self.deliverer.composed(Digest(sub, shown, matched, created=now))  # what it would show
            return Outcome(sub.id, "dry-run", n, matched, self.deliverer.destination(sub))
        message_id = make_message_id(sub.id, now, self.config.email_from)
        shown, message = self._fit(Digest(sub, shown, matched, created=now, message_id=message_id))
        digest_id = self.store.create_digest(
            sub.id,
            [DigestItem(m.paper, m.score, m.terms, m.authors, m.reasons) for m in shown],
            matched,
            selection.seq_to,
            now,
            message_id,
            self.deliverer.channel(sub),
            self.deliverer.destination(sub),
            holder=self._holder,
            now=self.clock(),
        )
        digest = Digest(sub, shown, matched, id=digest_id, created=now, message_id=message_id)
        return self._send(digest, attempts_before=0, message=message)

    def _fit(self, digest: Digest) -> tuple[list[Match], OutgoingEmail | list[dict] | None]:
        """The papers the message will really show, and the message, composed before the digest
        is recorded (and before a retry): an email cut to stay under Gmail's clip lists the rest
        only in its "…and N more" count, so the ledger records only what the reader got (the
        rest are passed over, like those past max_papers). A template error leaves it to the
        send, which records it."""
        try:  # a template error is recorded and logged by the send (_log_outcome)
            message, n = self.deliverer.composed(digest)
        except DeliveryError:
            return digest.matches, None
        return digest.matches[:n], message

    def _retry(self, digest_id: int) -> Outcome:
        record = self.store.digest(digest_id)
        state = self.store.subscriber(record.subscriber_id) if record else None
        if record is None or state is None:
            return Outcome(str(digest_id), "failed", error="digest or subscriber vanished")
        sub = state.subscriber
        if not sub.active or sub.paused:
            why = "the subscriber was removed" if not sub.active else "the subscriber paused or unsubscribed"
            self.store.cancel_pending(sub.id, why)
            return Outcome(
                sub.id, "cancelled", record.n_papers, record.n_matched, error=why, digest_id=record.id
            )
        if record.unconfirmed:
            log.warning(
                "digest %s to %s: an earlier attempt has no known outcome (a crash, a failed database"
                " write, or an answer the server never gave); sending it once more with the same Message-ID",
                record.id,
                sub.id,
            )
        posted = self.store.posted_parts(record.id) if record.parts_sent else None
        digest = self._recorded(record, state.subscriber)
        if posted is not None:  # part of it went out: the rest of those messages, not a new split
            return self._send(digest, attempts_before=record.attempts, message=posted)
        shown, message = self._fit(digest)
        if len(shown) < len(digest.matches):  # recorded uncut after a template error, cut now
            self.store.drop_digest_items(record.id, [m.paper.seq for m in digest.matches[len(shown) :]])
            digest.matches = shown
        return self._send(digest, attempts_before=record.attempts, message=message)

    def _dry_retry(self, record: DigestRecord) -> Outcome | None:
        """What `_retry` would send of a waiting digest, sending and recording nothing; None
        for one it would cancel (its subscriber left) or hold (it may have arrived)."""
        state = self.store.subscriber(record.subscriber_id)
        if state is None or not state.subscriber.active or state.subscriber.paused:
            return None
        if record.unconfirmed >= MAX_UNCONFIRMED:
            return None
        digest = self._recorded(record, state.subscriber)
        shown = len(self._fit(digest)[0])
        sub = digest.subscriber
        return Outcome(
            sub.id, "dry-run", shown, record.n_matched, record.destination or self.deliverer.destination(sub)
        )

    def _recorded(self, record: DigestRecord, sub: Subscriber) -> Digest:
        """A recorded digest as a retry sends it: its papers and counts as recorded."""
        items = self.store.digest_items(record.id)
        return Digest(
            sub,
            [Match(it.paper, it.score, it.terms, it.authors, it.reasons) for it in items],
            record.n_matched,
            id=record.id,
            created=record.created_at,
            message_id=record.message_id,
            parts_sent=record.parts_sent,
        )

    def _send(
        self, digest: Digest, attempts_before: int, message: OutgoingEmail | list[dict] | None = None
    ) -> Outcome:
        """Deliver and record. A StoreWriteError (disk full...) propagates: it stops the batch,
        since nothing more can be recorded; a digest sent but not recorded is then possibly
        delivered (see Store.begin_attempt) and is sent at most once more."""
        started = time.monotonic()
        if not self.deliverer.take_turn(digest):
            log.info(
                "digest %s to %s: stopping before its turn under DIGESTBOT_SMTP_RATE; it waits for the next run",
                digest.id,
                digest.subscriber.id,
            )
            return Outcome(
                digest.subscriber.id,
                "stopped",
                len(digest.matches),
                digest.total_matched,
                digest_id=digest.id,
            )
        self.store.begin_attempt(digest.id, self.clock(), holder=self._holder)
        several = message if isinstance(message, list) and len(message) > 1 else None

        def on_part(n: int) -> None:  # with the first part, all of them: what a retry posts the rest of
            self.store.set_parts_sent(digest.id, n, several if n == 1 else None)

        try:
            where = self.deliverer.deliver(digest, on_part=on_part, message=message)
        except StoreWriteError:
            raise
        except Exception as e:  # one broken digest must not stop the others; it is kept and retried
            return self._failed(digest, e, attempts_before, started)
        sub = digest.subscriber
        try:
            self.store.mark_sent(digest.id, self.clock(), where)
        except StoreWriteError as e:
            log.error(
                "digest %s to %s was delivered (%s) but could not be recorded: %s",
                digest.id,
                sub.id,
                where,
                e,
            )
            raise
        return Outcome(
            sub.id,
            "sent",
            len(digest.matches),
            digest.total_matched,
            where,
            None,
            digest.id,
            time.monotonic() - started,
        )

    def _failed(self, digest: Digest, failure: Exception, attempts_before: int, started: float) -> Outcome:
        """Record a failed attempt and when to try again. A message that may have arrived all the
        same (DeliveryError.unconfirmed) counts towards holding the digest as possibly delivered.
        An address refused for good (DeliveryError.address_refused) is not tried again on the
        backoff: the digest waits for the address to change (the store makes it due then) and
        has one last try at RETRY_LIMIT."""
        known = failure if isinstance(failure, DeliveryError) else DeliveryError("")
        unconfirmed, address_refused = known.unconfirmed, known.address_refused
        error = _describe(failure, digest)
        now = self.clock()
        attempts = attempts_before + 1
        created = digest.created or now
        retry_at = now + retry_delay(attempts)
        if address_refused:
            retry_at = max(retry_at, created + RETRY_LIMIT)
        give_up = retry_at - created > RETRY_LIMIT
        self.store.mark_attempt_failed(digest.id, error, None if give_up else retry_at, unconfirmed)
        return Outcome(
            digest.subscriber.id,
            "given-up" if give_up else "failed",
            len(digest.matches),
            digest.total_matched,
            self.deliverer.destination(digest.subscriber),
            error,
            digest.id,
            time.monotonic() - started,
        )


def first_digest_reach(store: Store, now: datetime, sources: frozenset[str] = frozenset()) -> datetime:
    """Where a new subscriber's first digest reaches back to: a day before the newest paper
    arrived (of their `sources`, when they name some). Not a day before now: arXiv announces
    nothing on Saturdays and Sundays, and a reader who signed up on a weekend got an empty first
    digest, not Friday's papers; nor while a blog or Hugging Face, which they do not take, posts."""
    return (store.newest_arrival(now, sources) or now) - FIRST_DIGEST_REACH


def trending_since(state: SubscriberState, now: datetime) -> datetime:
    """Where a trending digest's pool starts: the last TRENDING_WINDOW, or since the previous
    digest if that is longer ago (downtime loses nothing), never before the day before the
    subscriber was created (a first digest reaches back one day), nor after the day before now
    (a subscriber created while the clock ran ahead)."""
    floor = min(state.created_at, now) - FIRST_DIGEST_REACH
    if state.last_seq is None or state.last_run_at is None:
        return max(now - FIRST_DIGEST_REACH, floor)
    return max(min(now - TRENDING_WINDOW, state.last_run_at), floor)


def _describe(error: Exception, digest: Digest) -> str:
    if isinstance(error, DeliveryError):
        return str(error)
    log.debug("unexpected error delivering digest %s", digest.id, exc_info=error)
    return f"unexpected error: {type(error).__name__}: {error}"


# The features of a run are fitted on at least this many papers (the window, then the newest
# stored before it): inverse document frequencies from a quiet day's few papers weigh common
# words like rare ones, and twice as many off-topic papers cleared the relevance floor then.
IDF_PAPERS = 500


def _by_title(papers: Iterable[Paper]) -> dict[str, Paper]:
    """Papers by `title_key`: where a library entry without an arXiv id finds its paper."""
    return {title_key(p.title): p for p in papers if p.title}


class _WindowFilters:
    """Which papers of a run's window may enter a seeded reader's digest by similarity, as
    `relevance.Allowed` (a mask over many rows at once): new to them (not before their
    watermark, which the ranking checks; from the sources they take; a revised paper they never
    received), not liked or rated by them, and through their exclusions and categories. What
    the readers share (which papers each source set takes, each category set lets through, the
    revised papers) is computed once for the window."""

    def __init__(self, window, matcher: Matcher, feeds: dict[str, frozenset[str]], reached):
        self.window, self.matcher, self.feeds, self.reached = window, matcher, feeds, reached
        self.revised = np.flatnonzero(
            np.fromiter((p.revised for p in window.papers), bool, len(window.papers))
        )
        self.categories = matcher.category_masks(window.papers)
        self._fed: dict[frozenset[str], np.ndarray] = {}
        self._views: dict[str, PaperText] = {}

    def allowed(self, sid: str, profile: Profile, index: int | None, skip: set[str], vetoed) -> Callable:
        """The filter for one reader; `index`: their place in the matcher (None: likes only,
        not in the matcher, whose filters are read from `profile`)."""
        blocked = np.zeros(len(self.window.papers), dtype=bool)
        blocked[self.window.rows_of(skip)] = True
        blocked[self.window.rows_of(vetoed)] = True  # the matcher found them for the whole window
        reached = self.reached.get(sid, ())
        if reached:
            blocked[[i for i in self.revised.tolist() if self.window.papers[i].seq in reached]] = True
        fed = self._fed_by(self.feeds.get(sid, frozenset()))
        categories = self.categories(index) if index is not None else None
        compiled = compile_profile(profile) if index is None else None
        search = compiled is not None and bool(compiled.exclude or compiled.categories)

        def allowed(rows: np.ndarray) -> np.ndarray:
            ok = ~blocked[rows]
            if fed is not None:
                ok &= fed[rows]
            if categories is not None:
                ok &= categories[rows]
            if search:
                ok &= np.fromiter((self._passes(compiled, i) for i in rows.tolist()), bool, len(rows))
            return ok

        return allowed

    def _fed_by(self, sources: frozenset[str]) -> np.ndarray | None:
        if not sources:
            return None
        if sources not in self._fed:
            papers = self.window.papers
            self._fed[sources] = np.fromiter((fed_by(p, sources) for p in papers), bool, len(papers))
        return self._fed[sources]

    def _passes(self, compiled, i: int) -> bool:
        paper = self.window.papers[i]
        view = self._views.get(paper.key) or self._views.setdefault(paper.key, PaperText.of(paper))
        return passes_filters(compiled, view)


def _ranks_by_seeds(profile: Profile, ratings: dict[str, int]) -> bool:
    """Whether a reader is ranked by similarity too: with liked papers or papers rated up, or
    keywords and papers rated down (papers like those sink among the keyword matches)."""
    votes = ratings.values()
    return (
        profile.has_seeds or any(v > 0 for v in votes) or bool(profile.keywords and any(v < 0 for v in votes))
    )


def _library_papers(texts: Iterable[str], titled: dict[str, Paper]) -> dict[str, Paper]:
    """The library texts whose title is a paper's of `titled`, each with that paper: it stands
    for the text as a liked paper (its stored abstract counts, it never comes as new), and a
    text of a paper liked by its id too (a preprint and its published version) counts once."""
    found = {}
    for text in texts:
        paper = next((titled[k] for k in title_keys(text) if k in titled), None)
        if paper is not None:
            found[text] = paper
    return found


def _log_outcome(o: Outcome) -> None:
    if o.status == "sent":
        log.info(
            "digest %s to %s: %d papers (%d matched) -> %s (%.2fs)",
            o.digest_id,
            o.subscriber_id,
            o.papers,
            o.matched,
            o.destination,
            o.seconds,
        )
    elif o.status == "failed":
        log.warning("digest %s to %s failed, will retry: %s", o.digest_id, o.subscriber_id, o.error)
    elif o.status == "given-up":
        log.error(
            "digest %s to %s given up after repeated failures: %s", o.digest_id, o.subscriber_id, o.error
        )
    elif o.status == "cancelled":
        log.info("digest %s to %s cancelled: %s", o.digest_id, o.subscriber_id, o.error)
    elif o.status == "empty":
        log.info("no new matching papers for %s", o.subscriber_id)
