"""The `/digest` slash command: parse the text, apply it to the subscriber it concerns, reply.

Transport-free: the HTTP endpoint and Socket Mode both call `handle_command` after the request
was verified, and send back the Reply it returns (ephemeral). Slow work (a preview) comes back
as `Reply.later`, which the caller runs after acknowledging and posts through response_url.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from .arxiv_ids import arxiv_id, problem_note, unlisted
from .collect import not_on_arxiv
from .config import Config, Env
from .matching import distinct_terms, shared_terms, term_key, term_problem, vetoes
from .models import READER_MAX_KEYWORDS, READER_MAX_LIKES, Profile, Subscriber
from .render import limit
from .schedule import (
    ScheduleError,
    get_timezone,
    held_until,
    next_due,
    parse_schedule,
    reads_as_schedule,
    settable_timezone,
)
from .store import Store, StoreError, now_utc
from .text import is_number, one_line, shorten, split_terms

MAX_COMMAND_CHARS = 2000
UNKNOWN_LIKE = "(arXiv does not know this id: check it, or `/digest unlike` it)"
NOT_FETCHED_LIKE = "(not fetched from arXiv yet)"
# `/digest likes` lists at most as many as a reader may like, each title cut to a line (a YAML
# library may hold 5,000), and `/digest like` cuts its titles alike (a title may be 1,000
# characters): Slack cuts a message off unannounced at 40,000 characters.
LIKES_SHOWN = READER_MAX_LIKES
LIKED_TITLE_CHARS = 120
# A reader's schedule comes at most hourly (an operator's YAML may set any): a channel member's
# `* * * * *` would post every minute, and empty a trending digest's pool in minutes.
SLACK_MIN_GAP_MINUTES = 60
SLACK_MAX_TRENDING = 100  # /digest trending N; a YAML `trending:` may go to config.MAX_TRENDING

HELP = """\
*/digest* manages your paper digest, delivered to you by DM.
• `/digest subscribe diffusion policy, imitation learning, robot*`  add keywords (comma-separated; `word*` is a prefix)
• `/digest unsubscribe diffusion policy`  remove a keyword
• `/digest exclude survey`  drop papers that mention a word (`/digest unsubscribe survey` lets them in again)
• `/digest like 2303.04137` (an arXiv id or link; several with commas or spaces)  more papers like this one; `/digest unlike …` to undo, `/digest likes` to list them
• `/digest trending 10`  the 10 most upvoted Hugging Face papers you have not had (your keywords, if any, narrow them); `/digest trending off` to stop
• `/digest schedule daily 08:00 Europe/Berlin`  when (`daily HH:MM`, `weekdays HH:MM`, `weekly mon HH:MM` or cron) and timezone
• `/digest list`  what you follow, your schedule, next and last digest
• `/digest preview`  the digest you would get now
• `/digest pause` / `/digest resume`
In a channel, `/digest channel subscribe …` (and the same commands after `channel`) manage the channel's own digest."""


@dataclass(frozen=True)
class CommandContext:
    """Who asked, and where (from the slash command payload)."""

    user_id: str
    channel_id: str = ""
    channel_name: str = ""
    response_url: str | None = None


@dataclass
class Reply:
    text: str
    blocks: list | None = None
    later: Callable[[], Reply] | None = None


class CommandError(Exception):
    """Something the user typed that cannot be done; the message says what and how."""


def channel_targets(channel_id: str, channel_name: str = "") -> list[str]:
    """The Slack targets a channel's digest may be set up with: its id, then `#name`."""
    return [channel_id, f"#{channel_name}" if channel_name else ""]


def in_direct_message(channel_id: str) -> bool:
    """Whether a command or click came from a DM (where the user's own digest is) or nowhere."""
    return not channel_id or channel_id.startswith("D")


def check_terms(terms: list[str]) -> None:
    """Refuse the first keyword or exclusion `matching.term_problem` refuses, saying why."""
    for term in terms:
        if (problem := term_problem(term)) is not None:
            shown = shorten(one_line(term), 40).replace("`", "'")
            raise CommandError(
                f"Cannot use `{shown}`: {problem}. Use words or phrases; `*` only at the end (`robot*`)."
            )


def parse_schedule_args(text: str, default_tz: str) -> tuple[str, str]:
    """`daily 08:00 Europe/Berlin` -> ('daily 08:00', 'Europe/Berlin'); the timezone is optional.
    The last word is the timezone when the words before it are a schedule and all of them are
    not (a cron's last field), whatever its shape: `CET`, `Japan` and `utc` (refused, with
    the right spelling) too, not only `Area/City`."""
    words = text.split()
    tz = default_tz
    if len(words) > 1 and reads_as_schedule(" ".join(words[:-1])) and not reads_as_schedule(" ".join(words)):
        tz, words = words[-1], words[:-1]
    spec = " ".join(words)
    try:
        schedule = parse_schedule(spec)
        (get_timezone if tz == default_tz else settable_timezone)(tz)  # the digest's own zone stays readable
        if schedule.shortest_gap < SLACK_MIN_GAP_MINUTES:
            raise ScheduleError(
                f"`{spec}` would send a digest every {schedule.shortest_gap} minute(s): from Slack,"
                " at most one an hour"
            )
    except ScheduleError as e:
        raise CommandError(
            f"{e}.\nExamples: `/digest schedule daily 08:00`, `/digest schedule weekly mon 09:00 Europe/Berlin`, "
            "`/digest schedule 0 7 * * 1-5 America/New_York`"
        ) from None
    return spec, tz


def _next_digest(when: datetime | None, tz, now: datetime) -> str:
    """When the next digest comes, as /digest shows it: a time that has passed (the worker was
    down, or is between its rounds) is due now, not a time in the past."""
    if when is None:
        return "never"
    if when <= now:
        return f"due now (since {when.astimezone(tz):%a %d %b %H:%M}; it goes out at the worker's next round)"
    return f"{when.astimezone(tz):%a %d %b %H:%M}"


class CommandHandler:
    """Applies /digest commands to the store. One instance per request (it holds a Store)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        env: Env,
        preview: Callable[[str], Reply] | None = None,
        clock: Callable[[], datetime] = now_utc,
    ):
        self.store = store
        self.config = config
        self.env = env
        self.preview = preview
        self.clock = clock

    def handle(self, ctx: CommandContext, text: str) -> Reply:
        """Run one command; every mistake becomes a helpful reply, never an exception."""
        reply = self._dispatch(ctx, text)
        reply.text = _escape_reply(reply.text)
        return reply

    def _dispatch(self, ctx: CommandContext, text: str) -> Reply:
        text = (text or "").strip()
        if len(text) > MAX_COMMAND_CHARS:
            return Reply(f"That command is too long (at most {MAX_COMMAND_CHARS} characters).")
        text = _unescape(text)
        words = text.split(maxsplit=1)
        channel_scope = bool(words) and words[0].lower() == "channel"
        if channel_scope:
            words = words[1].split(maxsplit=1) if len(words) > 1 else []
        verb = words[0].lower() if words else "help"
        args = words[1].strip() if len(words) > 1 else ""
        try:
            if verb in ("help", "?"):
                return Reply(HELP)
            if channel_scope and in_direct_message(ctx.channel_id):
                raise CommandError("`/digest channel …` manages a channel's digest: use it in that channel.")
            method = getattr(self, f"cmd_{verb}", None)
            if method is None:
                raise CommandError(f"I don't know `{verb}`.\n\n{HELP}")
            return method(ctx, args, channel_scope)
        except CommandError as e:
            return Reply(str(e))

    # --- whose subscription ----------------------------------------------------------------

    def _targets(self, ctx: CommandContext, channel_scope: bool) -> list[str]:
        return channel_targets(ctx.channel_id, ctx.channel_name) if channel_scope else [ctx.user_id]

    def _current(self, ctx: CommandContext, channel_scope: bool) -> Subscriber | None:
        state = self.store.find_by_slack(self._targets(ctx, channel_scope))
        return state.subscriber if state and state.subscriber.active else None

    def _editable(self, ctx: CommandContext, channel_scope: bool, create: bool = False) -> Subscriber:
        sub = self._current(ctx, channel_scope)
        if sub is not None and sub.origin == "yaml":
            raise CommandError(
                f"This digest (`{sub.id}`) is set up in subscriptions.yaml, so it can't be changed from Slack. "
                "Ask the bot's operator to edit it there."
            )
        if sub is not None:
            return sub
        if not create:
            who = "This channel has" if channel_scope else "You have"
            prefix = "/digest channel" if channel_scope else "/digest"
            raise CommandError(f"{who} no digest yet. Start one with `{prefix} subscribe some keywords`.")
        target = ctx.channel_id if channel_scope else ctx.user_id
        earlier = self.store.subscriber(f"slack:{target}")
        if earlier is not None and earlier.subscriber.origin == "slack":
            # Removed or handed over to the YAML before: it comes back with its keywords.
            return replace(earlier.subscriber, active=True, paused=False)
        return Subscriber(
            id=f"slack:{target}",
            profile=Profile(),
            slack=target,
            schedule=self.config.default_schedule,
            timezone=self.config.default_timezone,
            max_papers=self.config.default_max_papers,
            origin="slack",
        )

    def _save(self, sub: Subscriber) -> None:
        try:
            self.store.save_slack_subscriber(sub)
        except StoreError as e:
            raise CommandError(f"This digest can't be changed from Slack: {e}.") from None

    # --- commands -------------------------------------------------------------------------

    def cmd_list(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        """Every digest here: a channel (or a person, in the YAML) may get several."""
        found = self.store.all_by_slack(self._targets(ctx, channel_scope))
        subs = [s.subscriber for s in found if s.subscriber.active]
        if not subs:
            return Reply("No digest here yet. Start one with `/digest subscribe some keywords`.\n\n" + HELP)
        return Reply("\n\n".join(map(self.describe, subs)))

    def _update(
        self,
        ctx: CommandContext,
        channel_scope: bool,
        change: Callable[[Subscriber], Subscriber],
        create: bool = False,
    ) -> Subscriber:
        """Read the digest, change it and save it in one write transaction: commands arriving at
        once for the same digest (one user's, or a channel's members') apply one after the other
        and none is lost. `change` may raise CommandError (nothing is saved then)."""
        with self.store.transaction():
            sub = change(self._editable(ctx, channel_scope, create=create))
            self._save(sub)
        return sub

    def cmd_subscribe(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        terms = split_terms(args)
        if not terms:
            raise CommandError("Which keywords? For example: `/digest subscribe diffusion policy, robot*`")
        check_terms(terms)
        added: list[str] = []
        let_in: list[str] = []  # excluded before: an exclusion vetoes the keyword's every match

        def add(sub: Subscriber) -> Subscriber:
            added[:] = list(distinct_terms(terms, sub.profile.keywords))
            keywords = sub.profile.keywords + tuple(added)
            if len(keywords) > READER_MAX_KEYWORDS:
                raise CommandError(
                    f"A digest can follow at most {READER_MAX_KEYWORDS} keywords; this would make {len(keywords)}."
                )
            let_in[:] = [e for e in sub.profile.exclude if any(vetoes(e, t) for t in terms)]
            exclude = tuple(k for k in sub.profile.exclude if k not in let_in)
            return replace(
                sub, profile=replace(sub.profile, keywords=keywords, exclude=exclude), paused=False
            )

        add, resumed = _resumes(add)
        sub = self._update(ctx, channel_scope, add, create=True)
        said = f"Added {', '.join(f'`{t}`' for t in added) or 'nothing new'}."
        if let_in:
            said += f" Papers mentioning {', '.join(f'`{t}`' for t in let_in)} are no longer left out."
        said += f"\n{RESUMED}" if any(resumed) else ""
        return Reply(f"{said}\n\n{self.describe(sub)}")

    def cmd_unsubscribe(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        terms = split_terms(args)
        if not terms:
            raise CommandError(
                "Which keyword? For example: `/digest unsubscribe diffusion policy`. To stop everything: `/digest pause`."
            )
        drop = set(map(term_key, terms))
        removed: list[str] = []  # of the terms: those followed, and those excluded, before
        let_in: list[str] = []

        def remove(sub: Subscriber) -> Subscriber:
            p = sub.profile
            removed[:], let_in[:] = shared_terms(terms, p.keywords), shared_terms(terms, p.exclude)
            if not removed and not let_in:
                raise CommandError(
                    f"You don't follow {', '.join(f'`{t}`' for t in terms)}.\n\n{self.describe(sub)}"
                )
            keywords = tuple(k for k in p.keywords if term_key(k) not in drop)
            exclude = tuple(k for k in p.exclude if term_key(k) not in drop)
            return replace(sub, profile=replace(p, keywords=keywords, exclude=exclude))

        sub = self._update(ctx, channel_scope, remove)
        said = [f"Removed {', '.join(f'`{t}`' for t in removed)}."] if removed else []
        if let_in:
            said.append(f"Papers mentioning {', '.join(f'`{t}`' for t in let_in)} are no longer left out.")
        if never := [t for t in terms if t not in removed and t not in let_in]:
            said.append(f"Not among your keywords: {', '.join(f'`{t}`' for t in never)}.")
        return Reply(f"{' '.join(said)}\n\n{self.describe(sub)}")

    def cmd_exclude(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        terms = split_terms(args)
        if not terms:
            raise CommandError("Exclude what? For example: `/digest exclude survey`")
        check_terms(terms)

        dropped: list[str] = []  # followed before: the exclusion would veto the keyword's every match

        def exclude(sub: Subscriber) -> Subscriber:
            more = sub.profile.exclude + distinct_terms(terms, sub.profile.exclude)
            if len(more) > READER_MAX_KEYWORDS:
                raise CommandError(f"At most {READER_MAX_KEYWORDS} exclusions.")
            dropped[:] = [k for k in sub.profile.keywords if any(vetoes(t, k) for t in terms)]
            keywords = tuple(k for k in sub.profile.keywords if k not in dropped)
            return replace(sub, profile=replace(sub.profile, keywords=keywords, exclude=more))

        sub = self._update(ctx, channel_scope, exclude)
        said = f"Papers mentioning {', '.join(f'`{t}`' for t in terms)} will be left out."
        if dropped:
            said += f" {', '.join(f'`{t}`' for t in dropped)}: no longer followed."
        return Reply(f"{said}\n\n{self.describe(sub)}")

    def cmd_schedule(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        if not args:
            raise CommandError("When? For example: `/digest schedule daily 08:00 Europe/Berlin`")

        def schedule(sub: Subscriber) -> Subscriber:
            spec, tz = parse_schedule_args(args, sub.timezone)
            return replace(sub, schedule=spec, timezone=tz)

        sub = self._update(ctx, channel_scope, schedule)
        return Reply(f"Schedule set to `{sub.schedule}` ({sub.timezone}).\n\n{self.describe(sub)}")

    def cmd_pause(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        self._update(ctx, channel_scope, lambda sub: replace(sub, paused=True))
        return Reply("Paused: no digests until `/digest resume`.")

    def cmd_resume(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        sub = self._update(ctx, channel_scope, lambda sub: replace(sub, paused=False))
        return Reply("Resumed.\n\n" + self.describe(sub))

    def cmd_like(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        ids, refused = _paper_refs(args)
        added: list[str] = []

        def like(sub: Subscriber) -> Subscriber:
            if sub.profile.trending:
                raise CommandError(
                    "Your digest is a trending one, ranked by upvotes: liked papers can't steer it."
                    " `/digest trending off` first to follow papers like these."
                )
            added[:] = [a for a in ids if a not in sub.profile.likes]
            likes = sub.profile.likes + tuple(added)
            if len(likes) > READER_MAX_LIKES:
                raise CommandError(f"A digest can follow at most {READER_MAX_LIKES} liked papers.")
            return replace(sub, profile=replace(sub.profile, likes=likes), paused=False)

        like, resumed = _resumes(like)
        sub = self._update(ctx, channel_scope, like, create=True)
        titles = self._titles(added)
        lines = [f"Liked {_ids(added)}: your digest will bring papers like these."] if added else []
        lines += [RESUMED] if any(resumed) else []
        lines += [f"• `{a}` {shorten(titles[a], LIKED_TITLE_CHARS)}" for a in added if a in titles]
        if already := [a for a in ids if a not in added]:
            lines.append(f"Already liked: {_ids(already)}.")
        unknown = not_on_arxiv(self.store) if len(titles) < len(added) else set()
        if missing := [a for a in added if a not in titles and a not in unknown]:
            lines.append(
                f"Not in the database yet: {_ids(missing)} (fetched from arXiv before your next digest;"
                " `/digest likes` shows the titles then)."
            )
        if never := [a for a in added if a in unknown - titles.keys()]:
            one = len(never) == 1
            lines.append(
                f"arXiv does not know {_ids(never)} (at the last fetch): check the {'id' if one else 'ids'},"
                f" or `/digest unlike` {'it' if one else 'them'}."
            )
        lines += [refused] if refused else []
        return Reply("\n".join(lines) + f"\n\n{self.describe(sub)}")

    def cmd_unlike(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        ids, refused = _paper_refs(args)
        removed: list[str] = []

        def unlike(sub: Subscriber) -> Subscriber:
            removed[:] = [a for a in ids if a in sub.profile.likes]
            if not removed:
                raise CommandError(
                    f"{_ids(ids)} {'is' if len(ids) == 1 else 'are'} not among your liked papers"
                    " (`/digest likes` lists them)." + (f"\n{refused}" if refused else "")
                )
            likes = tuple(a for a in sub.profile.likes if a not in removed)
            return replace(sub, profile=replace(sub.profile, likes=likes))

        sub = self._update(ctx, channel_scope, unlike)
        said = f"Removed {_ids(removed)}."
        if never := [a for a in ids if a not in removed]:
            said += f" Not among your liked papers: {_ids(never)}."
        said += f"\n{refused}" if refused else ""
        return Reply(f"{said}\n\n{self.describe(sub)}")

    def _titles(self, ids: list[str]) -> dict[str, str]:
        """The titles of the stored papers among these arXiv ids."""
        return {
            p.arxiv_id: p.display_title
            for p in self.store.papers_by_keys(f"arxiv:{a}" for a in ids)
            if p.arxiv_id
        }

    def cmd_trending(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        word = args.strip().lower()
        if word in ("off", "stop", "none", "0"):
            n = None
        elif is_number(word) and 1 <= int(word) <= SLACK_MAX_TRENDING:
            n = int(word)
        else:
            raise CommandError(
                f"How many? For example: `/digest trending 10` (1 to {SLACK_MAX_TRENDING}), or `/digest trending off`."
            )
        if n and not any(s.type == "hf_daily" for s in self.config.sources):
            raise CommandError(
                "Trending digests rank papers by their Hugging Face upvotes, and this bot fetches no"
                " Hugging Face list. Ask the bot's operator to add an `hf_daily` source."
            )

        def trending(sub: Subscriber) -> Subscriber:
            if n and sub.profile.likes:
                raise CommandError(
                    "A trending digest ranks by upvotes and can't also follow liked papers:"
                    " `/digest unlike …` them first (`/digest likes` lists them)."
                )
            if n is None and not sub.profile.trending:
                raise CommandError(f"Your digest is not a trending one.\n\n{self.describe(sub)}")
            return replace(sub, profile=replace(sub.profile, trending=n), paused=False if n else sub.paused)

        trending, resumed = _resumes(trending)
        sub = self._update(ctx, channel_scope, trending, create=bool(n))
        said = (
            f"Trending: your digests now bring the {n} most upvoted Hugging Face papers you have not had"
            + (" among those matching your keywords" if sub.profile.follows_terms else "")
            + "."
            if n
            else "Trending is off: your digests follow your keywords again."
            if sub.profile.follows_terms
            else "Trending is off: your digest follows nothing now. Add keywords with"
            " `/digest subscribe …`, or `/digest trending 10` again."
        )
        said += f"\n{RESUMED}" if any(resumed) else ""
        return Reply(f"{said}\n\n{self.describe(sub)}")

    def cmd_likes(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        sub = self._current(ctx, channel_scope)
        if sub is None or not sub.profile.likes:
            return Reply("No liked papers yet. Add one with `/digest like 2303.04137` (an arXiv id or link).")
        shown, more = sub.profile.likes[:LIKES_SHOWN], len(sub.profile.likes) - LIKES_SHOWN
        titles = self._titles(list(shown))
        unknown = not_on_arxiv(self.store) - titles.keys()
        missing = {a: UNKNOWN_LIKE if a in unknown else NOT_FETCHED_LIKE for a in shown}
        lines = [
            f"• `{a}` {shorten(titles[a], LIKED_TITLE_CHARS) if a in titles else missing[a]}" for a in shown
        ]
        if more > 0:  # only a YAML digest's: its library (a reader likes at most LIKES_SHOWN)
            lines.append(
                f"… and {more} more: {len(sub.profile.likes)} in all, from subscriptions.yaml and its library."
            )
        return Reply("*Liked papers*\n" + "\n".join(lines))

    def cmd_preview(self, ctx: CommandContext, args: str, channel_scope: bool) -> Reply:
        sub = self._current(ctx, channel_scope)
        if sub is None:
            raise CommandError("No digest here yet. Start one with `/digest subscribe some keywords`.")
        if self.preview is None:
            raise CommandError("Previews are not available here.")
        sid, preview = sub.id, self.preview
        return Reply("Building your preview…", later=lambda: preview(sid))

    # --- text -----------------------------------------------------------------------------

    def _undelivered(self, sid: str) -> list[str]:
        """A line on the digest waiting for a retry, with why its last try failed (a channel the
        bot was not invited to): the readers hear it, not only the operator's `status`."""
        waiting = [d for d in self.store.digests(status="pending", subscriber_id=sid) if d.last_error]
        if not waiting:
            return []
        d, why = waiting[-1], shorten(one_line(waiting[-1].last_error or ""), 300)
        papers = f"{d.n_papers} paper{'' if d.n_papers == 1 else 's'}"
        return [f"Not delivered yet: a digest of {papers}; the last try failed: {why}"]

    def describe(self, sub: Subscriber) -> str:
        state = self.store.subscriber(sub.id)
        p = sub.profile
        lines = [f"*Digest `{sub.id}`*" + (" (paused)" if state and state.subscriber.paused else "")]
        if p.trending:
            lines.append(f"Trending: the {p.trending} most upvoted Hugging Face papers you have not had")
        lines.append("Keywords: " + (", ".join(f"`{k}`" for k in p.keywords) or "none yet"))
        if p.exclude:
            lines.append("Excluding: " + ", ".join(f"`{k}`" for k in p.exclude))
        if p.authors:
            lines.append("Authors: " + ", ".join(p.authors))
        if p.categories:
            lines.append("Categories: " + ", ".join(p.categories))
        if p.likes:
            lines.append(f"Liked papers: {len(p.likes)} (`/digest likes` lists them)")
        # A trending digest brings its N papers whatever max_papers says.
        lines.append(f"Schedule: `{sub.schedule}` ({sub.timezone}), up to {limit(sub)} papers")
        if state is not None:
            try:
                tz = get_timezone(sub.timezone)
                if state.subscriber.paused:
                    nxt = "none while paused (`/digest resume` starts them again)"
                elif state.last_run_at is None:
                    nxt = "at the next run (the latest day's papers)"
                else:
                    now = self.clock()
                    when = held_until(
                        next_due(
                            parse_schedule(sub.schedule), tz, state.last_run_at, state.schedule_moved, now
                        ),
                        self.store.retry_times(sub.id, now).get(sub.id),  # a digest waiting goes first
                    )
                    nxt = _next_digest(when, tz, now)
            except ScheduleError as e:  # stored by an older version, or a zone tzdata dropped since
                tz = get_timezone("UTC")
                nxt = f"none: the schedule can't be read ({e}); set one with `/digest schedule daily 08:00`"
            last = self.store.last_sent(sub.id)
            lines.append(f"Next digest: {nxt}")
            lines.append(
                "Last digest: "
                + (
                    f"{last.sent_at.astimezone(tz):%a %d %b %H:%M}, {last.n_papers} papers"
                    if last and last.sent_at
                    else "none yet"
                )
            )
            lines += self._undelivered(sub.id)
        if sub.origin == "yaml":
            lines.append("_Set up in subscriptions.yaml: ask the bot's operator to change it._")
        return "\n".join(lines)


_SLACK_LINK_RE = re.compile(r"<([^<>|]*)(?:\|[^<>]*)?>")  # Slack's <url> and <url|label>
# Words around an id as arXiv cites it (`arXiv: 2401.12345 [cs.LG]`), which are no reference.
_CITATION_GLUE = re.compile(r"(?i)arxiv:?|\[[a-z-]+(?:\.[a-z-]+)?\]")


def _paper_refs(text: str) -> tuple[list[str], str]:
    """arXiv ids from `/digest like` text (ids or links, separated by commas, spaces or lines;
    a list's markers dropped), and a line naming each word that is neither ('' when none is):
    every word is one reference, so none is passed over as a title. A link Slack wrapped as
    `<url|label>` is one reference whatever its label holds. No id at all: CommandError,
    naming each word."""
    unwrapped = _SLACK_LINK_RE.sub(lambda m: f" {m.group(1)} ", text)
    lines = (unlisted(line.strip()) for line in re.split(r"[\r\n]+", unwrapped))  # a list from notes
    words = (w for line in lines for w in re.split(r"[\s,]+", line))
    refs = [r for r in words if r and not _CITATION_GLUE.fullmatch(r)]
    if not refs:
        raise CommandError("Which paper? For example: `/digest like 2303.04137` or an arxiv.org link.")
    ids, bad = [], []
    for ref in refs:
        if (aid := arxiv_id(ref)) is not None:
            ids.append(aid)
        else:
            shown = ref[:60].replace("`", "'")
            bad.append(f"`{shown}` is not an arXiv id or link{problem_note(ref)}")
    refused = (
        "; ".join(dict.fromkeys(bad))
        + ". Give one like `2303.04137`, `hep-th/9901001` or `https://arxiv.org/abs/2303.04137`."
        if bad
        else ""
    )
    if not ids:
        raise CommandError(refused)
    return list(dict.fromkeys(ids)), refused


def _ids(ids: list[str]) -> str:
    return ", ".join(f"`{a}`" for a in ids)


def _unescape(text: str) -> str:
    """What the user typed: Slack sends `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;` (its
    own markup, a `<url|label>` link, is left as it is)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _escape_reply(text: str) -> str:
    # Replies quote what users typed: escape it so a `<!channel>` in a keyword never pings.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


RESUMED = "Your digest was paused: it is on again (`/digest pause` stops it)."


def _resumes(
    change: Callable[[Subscriber], Subscriber],
) -> tuple[Callable[[Subscriber], Subscriber], list[bool]]:
    """`change` (a command's update of the subscriber), and a list that holds True once it has
    started a paused digest again: asking for papers is asking for digests, and the reply says so."""
    started: list[bool] = []

    def wrapped(sub: Subscriber) -> Subscriber:
        new = change(sub)
        started[:] = [sub.paused and not new.paused]
        return new

    return wrapped, started
