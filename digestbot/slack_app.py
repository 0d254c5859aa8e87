"""Slack's ways in: the slash-command service shared by the HTTP endpoint and Socket Mode.

Requests reach `SlackService.command` only after their signature was verified (HTTP, in
web.py) or over the authenticated Socket Mode connection. Replies are ephemeral. Slack shows
the user an error when an answer takes more than 3 seconds (the command may still be applied):
a preview is acknowledged at once and the digest posted afterwards through the command's
response_url, and any command or click still waiting for the database after ACK_SECONDS (a run
holding it) is acknowledged then, its answer following through response_url.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient

from .config import Config, Env
from .delivery.slack import TOKEN_ERRORS
from .digest import DigestRunner
from .links import read_button_value
from .ratings import TRENDING_RATING, rating_note
from .slack_commands import CommandContext, CommandHandler, Reply, channel_targets, in_direct_message
from .store import DigestGone, RatingRefused, Store, StoreError
from .text import one_line

log = logging.getLogger(__name__)
FEEDBACK_ACTIONS = {"feedback_up": 1, "feedback_down": -1}  # the digest buttons' action_ids
ACK_SECONDS = 2.0  # how long an answer may wait for the database: Slack gives up after 3 s
WAITING = (
    "The digest database is busy for a moment: your command is being applied, and the answer follows here."
)
WAITING_NO_URL = (
    "The digest database is busy for a moment: your command is being applied (`/digest list` shows it)."
)


class SlackService:
    """Runs /digest commands against the database; one Store per call (calls come from threads)."""

    def __init__(
        self, config: Config, env: Env, db_path: Path, workers: int = 2, ack_seconds: float = ACK_SECONDS
    ):
        self.config = config
        self.env = env
        self.db_path = db_path
        self.ack_seconds = ack_seconds
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-later")
        # Commands and clicks run here, so that one waiting for the database can be answered in time.
        self.work = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack-work")

    def command(self, form: dict[str, str]) -> dict:
        """A verified slash-command payload in; the ephemeral response body out."""
        ctx = CommandContext(
            user_id=form.get("user_id", ""),
            channel_id=form.get("channel_id", ""),
            channel_name=form.get("channel_name", ""),
            response_url=form.get("response_url") or None,
        )
        log.info(
            "/digest %s from %s in %s",
            (form.get("text") or "help").split(" ", 1)[0],
            ctx.user_id,
            ctx.channel_id,
        )
        job = self.work.submit(self._answer, ctx, form.get("text", ""))
        try:
            reply = job.result(timeout=self.ack_seconds)
        except FutureTimeout:
            log.warning(
                "/digest from %s waits for the database: acknowledged, the answer follows", ctx.user_id
            )
            if ctx.response_url:
                self._follow(job, ctx.response_url)
            return response_body(Reply(WAITING if ctx.response_url else WAITING_NO_URL))
        if reply.later is not None and ctx.response_url:
            self.executor.submit(self._run_later, reply, ctx.response_url)
        return response_body(reply)

    def _answer(self, ctx: CommandContext, text: str) -> Reply:
        try:
            with Store(self.db_path) as store:
                return CommandHandler(store, self.config, self.env, preview=self.preview).handle(ctx, text)
        except StoreError as e:
            log.error("/digest could not be answered: %s", e)
            return Reply(
                "Sorry, the digest database can't be used right now; nothing was changed. Try again later."
            )

    def _follow(self, job: Future, response_url: str) -> None:
        """Post a command's answer (and its preview, if it has one) through response_url once
        the job is done."""

        def answer() -> Reply:
            reply = job.result()
            return reply.later() if reply.later else reply

        job.add_done_callback(
            lambda _: self.executor.submit(self._run_later, Reply("", later=answer), response_url)
        )

    def preview(self, subscriber_id: str) -> Reply:
        """The digest the subscriber would get now, as Block Kit (the first message of it)."""
        with Store(self.db_path) as store:
            runner = DigestRunner(store, self.config, self.env)
            digest = runner.preview(subscriber_id)
            if digest is None or not digest.matches:
                return Reply("No new matching papers since your last digest: nothing would be sent now.")
            messages = runner.renderer.slack(digest)
        first = messages[0]
        note = f" (showing part 1 of {len(messages)})" if len(messages) > 1 else ""
        return Reply("Preview of your next digest" + note + ": " + first["text"], blocks=first["blocks"])

    def _run_later(self, reply: Reply, response_url: str) -> None:
        try:
            result = reply.later() if reply.later else reply
        except Exception as e:  # the user must hear something rather than wait forever
            log.exception("slash command follow-up failed")
            result = Reply(f"Sorry, that failed: {type(e).__name__}.")
        try:
            answer = WebhookClient(response_url, timeout=15).send_dict(response_body(result))
        except Exception:
            log.exception("could not post to response_url")
            return
        if answer.status_code != 200:  # 404 expired_url: past its 30 minutes or 5 posts
            log.warning(
                "Slack refused the follow-up to a /digest command (response_url answered %s: %s)",
                answer.status_code,
                answer.body[:200],
            )

    def interaction(self, payload: dict) -> None:
        """A verified interactivity payload: the "More like this" / "Less like this" buttons of a
        digest. The rating goes to the digest the button was in (the channel's; in a DM, the
        user's own) and only for a paper that digest received; the clicker hears back, ephemerally.
        Returns once it is recorded, or after ACK_SECONDS while the database is busy (it is
        recorded then, and the clicker hears back as usual)."""
        job = self.work.submit(self._rate, payload)
        try:
            job.result(timeout=self.ack_seconds)
        except FutureTimeout:
            log.warning("a rating waits for the database: acknowledged, recorded when it answers")

    def _rate(self, payload: dict) -> None:
        actions = payload.get("actions") if payload.get("type") == "block_actions" else None
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
        action_id, value = action.get("action_id"), action.get("value")
        # Any JSON may stand there: a list or an object is no action of ours (and unhashable).
        if not isinstance(action_id, str) or action_id not in FEEDBACK_ACTIONS or not isinstance(value, str):
            return
        vote = FEEDBACK_ACTIONS[action_id]
        sid, key = read_button_value(value)
        sid = self.config.current_id(sid) if sid is not None else None  # as the email links do
        user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
        channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
        user_id, channel_id = str(user.get("id") or ""), str(channel.get("id") or "")
        # A click in a channel is on the channel's digest, never the clicker's own (which only
        # comes by DM, and may hold the same paper); the channel's may be set up by #name.
        targets = (
            [channel_id, user_id]
            if in_direct_message(channel_id)
            else channel_targets(channel_id, str(channel.get("name") or ""))
        )
        try:
            with Store(self.db_path) as store:
                # The button names its digest; one is honoured only where that digest is delivered.
                state = store.find_by_slack(targets) if sid is None else store.subscriber(sid)
                if state is None or state.subscriber.slack not in targets:
                    raise RatingRefused("no digest here")
                store.rate(state.subscriber.id, key, vote, "slack")
                note = rating_note([s.subscriber for s in store.rated_for(state.subscriber.id)])
            text = "Noted: more papers like this one." if vote > 0 else "Noted: fewer papers like this one."
            if note:  # when it counts: a trending digest's rating moves nothing yet
                text = f"Noted. {note}" if note == TRENDING_RATING else f"{text} {note}"
            log.info("rating %+d for %s from Slack user %s", vote, key, user_id)
        except DigestGone:
            text = "This digest is no longer sent (the bot's operator removed it): nothing was recorded."
        except RatingRefused:
            text = "Only papers from this digest can be rated here."
        except StoreError as e:  # the database's (busy, full, damaged), not the click's
            log.error("could not record a rating: %s", e)
            text = "Sorry, that could not be recorded right now."
        url = payload.get("response_url")
        if isinstance(url, str) and url.startswith("https://"):
            self.executor.submit(self._run_later, Reply(text), url)

    def close(self) -> None:
        self.work.shutdown(wait=True)  # first: a late answer still reaches the executor
        self.executor.shutdown(wait=True)


def response_body(reply: Reply) -> dict:
    body: dict = {"response_type": "ephemeral", "text": reply.text}
    if reply.blocks:
        body["blocks"] = reply.blocks
    return body


def socket_mode_client(service: SlackService, env: Env) -> SocketModeClient:
    """A Socket Mode connection (no public URL needed) that answers /digest commands."""
    web = WebClient(token=env.slack_bot_token, base_url=_base(env.slack_api_url))
    client = SocketModeClient(app_token=env.slack_app_token or "", web_client=web)

    def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        payload = service.command(req.payload) if req.type == "slash_commands" else None
        client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=payload))
        if req.type == "interactive" and isinstance(req.payload, dict):
            service.interaction(req.payload)

    client.socket_mode_request_listeners.append(listener)
    return client


SOCKET_RETRY = 300.0  # seconds between attempts to open Socket Mode while Slack is out of reach


def connect_socket_mode(
    client: SocketModeClient, stop: threading.Event, retry_every: float = SOCKET_RETRY
) -> bool:
    """Open the Socket Mode connection; whether it is open now. Slack out of reach is one line
    in the log, and another try every `retry_every` seconds in the background until it opens
    (or `stop` is set); a token Slack refuses is one line too, and no retry (it will not change
    before a restart). Neither stops the process: digests and the HTTP pages go on."""
    why, again = _connect(client)
    if why is None:
        return True
    log.error(
        "cannot connect to Slack over Socket Mode: %s; /digest commands are not answered until it connects%s",
        why,
        f" (trying again every {retry_every:g} s)" if again else " (fix SLACK_APP_TOKEN, then restart)",
    )
    if again:

        def retry() -> None:
            while not stop.wait(retry_every):
                if _connect(client)[0] is None:
                    log.info("connected to Slack over Socket Mode")
                    return

        threading.Thread(target=retry, name="socket-mode-retry", daemon=True).start()
    return False


def _connect(client: SocketModeClient) -> tuple[str | None, bool]:
    """Try to connect once: (None, _) when connected, else (why, whether trying again may help)."""
    try:
        client.connect()
    except SlackApiError as e:
        error = str((e.response.get("error") if e.response is not None else None) or "an error")
        return (
            f"Slack answered {one_line(error)}",
            error not in TOKEN_ERRORS,
        )  # a token refused stays so until a restart
    except Exception as e:  # urllib, websocket and socket errors alike: out of reach
        reason = getattr(e, "reason", None) or e
        return one_line(f"{type(e).__name__}: {reason}"), True
    return None, False


def _base(url: str | None) -> str:
    url = url or WebClient.BASE_URL
    return url if url.endswith("/") else url + "/"
