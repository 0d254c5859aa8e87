"""Slack transport: chat.postMessage through slack-sdk's WebClient.

A user id (`U…`/`W…`) is a DM, opened with conversations.open; anything else is a channel (name
or id). HTTP 429 waits for Retry-After and tries again (slack-sdk's retry handler); 5xx and
dropped connections are retried a little; posts to one channel are spaced at least a second
apart, as Slack asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from . import DeliveryError

POST_INTERVAL = 1.0  # seconds between two messages to the same channel
# Errors that another try can fix; the rest (channel_not_found, not_in_channel, invalid_auth...)
# need a person to act, but the digest is still kept and retried in case they do.
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
# Errors about the token: every later call of the run would fail the same way.
TOKEN_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}


def is_user(target: str) -> bool:
    return target[:1] in ("U", "W") and target[1:].isalnum() and target.isupper()


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
        self.client = WebClient(
            token=token,
            base_url=url if url.endswith("/") else url + "/",
            timeout=timeout,
            retry_handlers=[
                RateLimitErrorRetryHandler(max_retry_count=3),
                ServerErrorRetryHandler(max_retry_count=2),
                ConnectionErrorRetryHandler(max_retry_count=2),
            ],
        )
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._dm: dict[str, str] = {}
        self._last_post: dict[str, float] = {}
        # Several workers: the pacing is shared through the database instead (see SharedRates);
        # called with the channel before each post, it waits for that post's slot.
        self.shared_pace: Callable[[str], None] | None = None
        self.unavailable: str | None = None  # a circuit breaker, as for SMTP: why, once open

    @property
    def name(self) -> str:
        return "slack"

    def channel_for(self, target: str) -> str:
        """The channel to post to: a DM channel for a user id, else the channel itself."""
        if not is_user(target):
            return target
        if target not in self._dm:
            response = self._call(self.client.conversations_open, users=target)
            self._dm[target] = response["channel"]["id"]
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
                self.unavailable = f"{e}; not tried again this run"
            raise

    def _send(
        self, target: str, messages: list[dict], start: int, on_part: Callable[[int], None] | None
    ) -> str:
        channel = self.channel_for(target)
        for n, message in enumerate(messages[start:], start + 1):
            self._pace(channel)
            self._call(
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
        return f"slack {target}" + (f" (DM {channel})" if channel != target else "")

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
            error = e.response.get("error") if e.response is not None else None
            status = e.response.status_code if e.response is not None else None
            error = error or f"HTTP {status}"
            transient = error in TRANSIENT_ERRORS or (status is not None and status >= 500)
            raise DeliveryError(
                f"Slack API error: {error}", transient=transient, breaks_all=error in TOKEN_ERRORS
            ) from None
        except (SlackClientError, OSError) as e:
            raise DeliveryError(f"cannot reach the Slack API: {e}", breaks_all=True) from None

    def close(self) -> None:
        pass
