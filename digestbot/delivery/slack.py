"""Slack transport: chat.postMessage through slack-sdk's WebClient.

A user id (`U…`/`W…`) is a DM, opened with conversations.open; anything else is a channel (name
or id). HTTP 429 waits for Retry-After (up to MAX_RETRY_AFTER) and tries again (slack-sdk's
retry handler); HTTP 503 is retried a little, and so is a connection that failed before the
request went out. A post whose answer is lost (a timeout, a dropped connection, an HTTP 500 or a
gateway's 502/504) may have been made, so it is never repeated at once. Posts to one channel are spaced at least a second apart, as Slack
asks.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from http.client import HTTPException
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError, SlackObjectFormationError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.models.blocks import Block

from ..models import SLACK_USER_PREFIXES
from ..signals import wait_unless_stopped
from ..text import one_line, retry_seconds, shorten
from . import DeliveryError

POST_INTERVAL = 1.0  # seconds between two messages to the same channel
# Errors about the token: every later call of the run would fail the same way.
# not_allowed_token_type: a token of another kind (an xapp- app token, an xoxp- user token).
TOKEN_ERRORS = {
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_allowed_token_type",
}
# Refusals of the user itself (as an email's 550 5.1.1): asking again as before cannot help, so
# the digest waits for the subscriber's `slack:` to change (DeliveryError.address_refused).
USER_REFUSED = {"user_not_found", "user_disabled", "cannot_dm_bot"}
POSSIBLY_POSTED = {"internal_error", "fatal_error"}  # errors after which a post may exist
# HTTP statuses after which a post may exist: the server (or a gateway's upstream) failed while
# carrying it out. A 503 is an unavailable service, which did not take the request.
POSSIBLY_POSTED_STATUS = {500, 502, 504}
MAX_RETRY_AFTER = 60  # seconds: a longer Retry-After is waited out by a later run, not this one
POST = "chat.postMessage"
# What the operator can do about an error that needs a person (said in the digest's status).
_TOKEN_FIX = "set SLACK_BOT_TOKEN to the bot token (xoxb-…) of an app installed in the workspace"
FIXES = {
    "channel_not_found": "no such channel, or a private one the bot is not in: check the subscriber's"
    " channel, or /invite the bot there",
    "not_in_channel": "the bot is not a member of that channel: /invite the bot there",
    "is_archived": "the channel is archived: unarchive it, or give the subscriber another channel",
    "user_not_found": "no such user in this workspace: check the subscriber's user id",
    "cannot_dm_bot": "that user id is a bot, which cannot be sent a digest",
    "user_disabled": "that user's account is deactivated",
    "restricted_action": "the workspace does not let the bot post there: ask a Slack admin",
    "missing_scope": "the app lacks a permission: add the scope to the app, then reinstall it",
    **dict.fromkeys(
        (
            "invalid_blocks",
            "invalid_blocks_format",
            "msg_too_long",
            "msg_blocks_too_long",
            "too_many_attachments",
        ),
        "Slack refused the message as digest.slack.json made it: check that template (digestbot check);"
        " with the default one, please report it",
    ),
    **dict.fromkeys(sorted(TOKEN_ERRORS), _TOKEN_FIX),
}


def _sent(error: BaseException) -> bool:
    """Whether a connection error may have come after the request went out (so the request may
    have been carried out). urllib wraps in URLError whatever fails while it connects and sends
    the request (a refused or timed-out connection, an unknown host or no route to it, a failed
    TLS handshake): Slack never had the whole request. What fails while the answer is awaited
    or read (a timeout, a connection closed, an answer cut short) comes as it is."""
    return not isinstance(error, URLError) and isinstance(error, OSError | HTTPException)


class _ConnectionRetry(ConnectionErrorRetryHandler):
    """slack-sdk's retry of connection errors, except for a post that may have been made."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if error is not None and request.url.endswith(POST) and _sent(error):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class _ServerErrorRetry(ServerErrorRetryHandler):
    """slack-sdk's retry of HTTP 500 and 503, except for a post that may have been made."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if (
            request.url.endswith(POST)
            and response is not None
            and response.status_code in POSSIBLY_POSTED_STATUS
        ):
            return False
        return super()._can_retry(state=state, request=request, response=response, error=error)


class _RateLimitRetry(RateLimitErrorRetryHandler):
    """Waits out HTTP 429 as slack-sdk does, but not past MAX_RETRY_AFTER: a worker is not
    held for an hour; the digest stays pending and a later run sends it. The wait is read as
    HTTP allows it (seconds, with a fraction too, or a date), where slack-sdk's int() raised.
    A stop asked for during the wait ends it (`should_stop`, polled): the 429 stands, and the
    digest waits for the next run, where three waits of a minute outlasted systemd's
    TimeoutStopSec and the worker was killed mid-digest."""

    def __init__(self, should_stop: Callable[[], bool], **kwargs):
        super().__init__(**kwargs)
        self.should_stop = should_stop

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return super()._can_retry(state=state, request=request, response=response, error=error) and (
            _retry_after(response.headers) <= MAX_RETRY_AFTER
        )

    def prepare_for_next_attempt(self, *, state, request, response=None, error=None) -> None:
        if response is None:
            raise error  # as slack-sdk's: only a response is retried here
        until = time.monotonic() + _retry_after(response.headers) + random.random()
        if not wait_unless_stopped(until, self.should_stop):
            return  # no next attempt: the 429 is the answer
        state.next_attempt_requested = True
        state.increment_current_attempt()


def _retry_after(headers) -> float:
    """Retry-After in seconds (headers as slack-sdk gives them: values or lists of values), read
    as `text.retry_seconds` reads it; 1 when absent or unreadable."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            wait = retry_seconds(str(value[0] if isinstance(value, list | tuple) else value))
            return 1.0 if wait is None else float(wait)
    return 1.0


def block_kit_problem(message: dict) -> str | None:
    """What Slack would refuse (invalid_blocks) in a message of blocks, or None: each block read
    and validated by slack-sdk's Block Kit models (its types, required fields and limits, and
    those of every element in it: a section's button, an action's menu), plus
    the rules they do not hold (a text object's type and text; a block's elements are a list).
    What the models skip as unknown (they log it and go on) is a problem too."""
    for n, raw in enumerate(message.get("blocks") or [], 1):
        kind = raw.get("type") if isinstance(raw, dict) else None
        where = f"block {n} ({kind})" if isinstance(kind, str) else f"block {n}"
        if not isinstance(kind, str) or kind not in _BLOCK_TYPES:
            return f"{where}: not one of Slack's block types"
        wrong = _block_rule(raw)
        if wrong:
            return f"{where}: {wrong}"
        try:
            with _skipped() as skipped:
                # to_dict validates every element inside too (validate_json: the block's own fields)
                Block.parse(raw).to_dict()
            if skipped:
                return f"{where}: {skipped[0]}"
        except TypeError as e:  # a required field missing, or one the type does not have
            return f"{where}: {_field_problem(e)}"
        except (SlackObjectFormationError, ValueError, AttributeError, KeyError) as e:
            return f"{where}: {e}"
    return None


def _block_types() -> frozenset[str]:
    """The block types slack-sdk's models read (`Block.parse` logs and skips any other)."""
    found, todo = set(), [Block]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if isinstance(getattr(sub, "type", None), str):
                found.add(sub.type)
    return frozenset(found)


_BLOCK_TYPES = _block_types()


def _block_rule(block: dict) -> str | None:
    text = block.get("text")
    kinds = {"header": ("plain_text",), "section": ("plain_text", "mrkdwn")}.get(block["type"])
    a_text = (
        isinstance(text, dict) and text.get("type") in (kinds or ()) and isinstance(text.get("text"), str)
    )
    if kinds and (text is not None or block["type"] == "header") and not a_text:
        return f"its text must be a text object of type {' or '.join(kinds)}"
    if "elements" in block and not isinstance(block["elements"], list):
        return "its elements must be a list"
    return None


class _Skipped(logging.Handler):
    """What slack-sdk's models log as unknown and skip, while one thread parses a block."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.found: list[str] = []
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.thread == self.thread and message.startswith("Unknown"):
            what = message.split(" detected", 1)[0].split(" (", 1)[0].lower()
            kind = re.search(r"'type': '([^']*)'", message)
            self.found.append(f"{what} of type {kind.group(1)!r}, which Slack refuses" if kind else what)


@contextlib.contextmanager
def _skipped():
    """The list of what slack-sdk's models skip as unknown inside the block."""
    catch, models = _Skipped(), logging.getLogger("slack_sdk.models")
    models.addHandler(catch)
    try:
        yield catch.found
    finally:
        models.removeHandler(catch)


def _field_problem(error: TypeError) -> str:
    """slack-sdk's constructor error as a field name: "missing 'alt_text'"."""
    message = str(error)
    if "required" in message and "'" in message:
        return "missing " + message[message.index("'") :]
    if "unexpected keyword argument" in message and "'" in message:
        return "no such field " + message[message.index("'") :]
    return message


def is_user(target: str) -> bool:
    return target[:1] in SLACK_USER_PREFIXES and target[1:].isalnum() and target.isupper()


class SlackTransport:
    """Posts Block Kit messages; one instance per run keeps the DM channels it opened."""

    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        interval: float = POST_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        timeout: int = 30,
    ):
        url = base_url or WebClient.BASE_URL
        self.should_stop: Callable[[], bool] = lambda: False  # set by the runner: a stop ends a 429 wait
        self.client = WebClient(
            token=token,
            base_url=url if url.endswith("/") else url + "/",
            timeout=timeout,
            retry_handlers=[
                _RateLimitRetry(lambda: self.should_stop(), max_retry_count=3),
                _ServerErrorRetry(max_retry_count=2),
                _ConnectionRetry(max_retry_count=2),
            ],
        )
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._dm: dict[str, str] = {}
        self._ids: dict[str, str] = {}  # a channel as written (#name) -> its id, as posts tell it
        self._last_post: dict[str, float] = {}
        # Several workers: the pacing is shared through the database instead (see SharedRates);
        # called with the channel before each post, it waits for that post's slot.
        self.shared_pace: Callable[[str], None] | None = None
        self.unavailable: str | None = None  # a circuit breaker, as for SMTP: why, once open

    @property
    def name(self) -> str:
        return "slack"

    def channel_for(self, target: str) -> str:
        """The channel to post to: a DM channel for a user id, else the channel's id once a post
        told it (one channel written as `#name` and as its id is then paced as one), else the
        channel as written."""
        if not is_user(target):
            return self._ids.get(target, target)
        if target not in self._dm:
            response = self._call(self.client.conversations_open, users=target)
            channel = response.get("channel")
            if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
                raise DeliveryError(
                    f"Slack API: conversations.open for {target} answered without a channel id"
                )
            self._dm[target] = channel["id"]
        return self._dm[target]

    def send(
        self, target: str, messages: list[dict], start: int = 0, on_part: Callable[[int], None] | None = None
    ) -> str:
        """Post messages[start:] in order; `on_part(n)` after each, n = messages sent so far.

        Once Slack is unreachable or refuses the token, the rest of the run fails at once."""
        if self.unavailable:
            raise DeliveryError(self.unavailable)
        try:
            return self._send(target, messages, start, on_part)
        except DeliveryError as e:
            if e.breaks_all:  # this digest reports the error; the rest of the run is told why
                why = "cannot reach the Slack API: it did not answer a post" if e.unconfirmed else str(e)
                self.unavailable = f"{why}; not tried again this run"
            raise

    def _send(
        self, target: str, messages: list[dict], start: int, on_part: Callable[[int], None] | None
    ) -> str:
        channel = self.channel_for(target)
        for n, message in enumerate(messages[start:], start + 1):
            self._pace(channel)
            response = self._call(
                self.client.chat_postMessage,
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                unfurl_links=False,
                unfurl_media=False,
                link_names=False,
            )
            if on_part:
                on_part(n)
            channel = self._learn(target, channel, response.get("channel"))
        return f"slack {target}" + (f" (DM {channel})" if is_user(target) else "")

    def _learn(self, target: str, channel: str, posted) -> str:
        """The channel's id, from a post's answer: later posts go (and are paced) by it, and the
        post just made counts against it."""
        if is_user(target) or not isinstance(posted, str) or not posted or posted == channel:
            return channel
        self._ids[target] = posted
        if self.shared_pace is not None:
            self.shared_pace(posted)  # takes the id's next slot, as the post just made did
        else:
            self._last_post[posted] = max(self._last_post.get(posted, 0.0), self._last_post[channel])
        return posted

    def _pace(self, channel: str) -> None:
        if self.shared_pace is not None:
            self.shared_pace(channel)
            return
        last = self._last_post.get(channel)
        if last is not None:
            wait = last + self.interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_post[channel] = self.clock()

    @staticmethod
    def _call(method, **kwargs):
        try:
            return method(**kwargs)
        except SlackApiError as e:
            raise _api_error(e, posting=method.__name__ == "chat_postMessage") from None
        except (SlackClientError, OSError, HTTPException) as e:
            if method.__name__ == "chat_postMessage" and _sent(e):
                raise DeliveryError(
                    f"possibly posted: the Slack API did not answer a post ({_short(e)}), which Slack may"
                    " have made all the same; not posted again now, a later run posts it once more",
                    breaks_all=True,
                    unconfirmed=True,
                ) from None
            raise DeliveryError(f"cannot reach the Slack API: {_short(e)}", breaks_all=True) from None

    def close(self) -> None:
        """The end of a run: the circuit breaker, and the ids learnt for channels written by
        name, hold for one run only (a channel renamed, or made anew under its name, since:
        a later run must not post to the old one). The DM channels opened are kept."""
        self.unavailable = None
        self._ids.clear()


def _api_error(e: SlackApiError, posting: bool = False) -> DeliveryError:
    """What Slack refused and, where a person has to act, what to do about it. A post that
    failed with internal_error or fatal_error may have been made all the same (Slack's docs:
    "it's possible some aspect of the operation succeeded"), and so may one answered with HTTP
    500 (or a gateway's 502/504): it counts as unconfirmed."""
    response = e.response
    status = response.status_code if response is not None else None
    data = response.data if response is not None and isinstance(response.data, dict) else {}
    error = data.get("error") if isinstance(data.get("error"), str) else None
    if error and error.startswith("Received a response in a non-JSON format"):
        error = f"HTTP {status}, an answer that is not JSON (a proxy or an outage in between?)"
    error = error or f"HTTP {status}"
    message = f"Slack API error: {error}"
    if error == "ratelimited":
        wait = _retry_after(response.headers if response is not None else None)
        message += f" (Slack asks to wait {wait:g} s); kept for a later run"
    elif error == "missing_scope" and isinstance(data.get("needed"), str):
        message += f": the app needs the scope {data['needed']}; add it to the app, then reinstall it"
    elif error in FIXES:
        message += f": {FIXES[error]}"
    if error in USER_REFUSED:
        message += "; the digest waits for the subscriber's slack: to change, or is tried once more a day after it was made"
    if said := _said(data):
        message += f" (Slack said: {said})"
    unconfirmed = posting and (error in POSSIBLY_POSTED or status in POSSIBLY_POSTED_STATUS)
    if unconfirmed:
        after = (
            "which Slack says may have posted it"
            if error in POSSIBLY_POSTED
            else "after which the post may exist"
        )
        message = f"possibly posted: {message}, {after} all the same"
    return DeliveryError(
        message,
        breaks_all=error in TOKEN_ERRORS,
        unconfirmed=unconfirmed,
        address_refused=error in USER_REFUSED,
    )


def _said(data: dict) -> str:
    """The details Slack gives with an error (`response_metadata.messages`: which field of
    which block it refused, and why), on one line."""
    meta = data.get("response_metadata")
    said = meta.get("messages") if isinstance(meta, dict) else None
    if not isinstance(said, list):
        return ""
    return "; ".join(shorten(one_line(m), 200) for m in said[:3] if isinstance(m, str))


def _short(error: BaseException) -> str:
    """The words of a connection error, without urllib's wrapping."""
    reason = error.reason if isinstance(error, URLError) else error
    return str(reason) or type(reason).__name__
