"""The mail the web pages send: the sign-up confirmation and the "manage your digest" link.

Rendered from templates/web/mail_*.txt and .html (overridable like the digest's), built like a
digest email and sent the way digests are: over DIGESTBOT_SMTP_URL, else into the outbox.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

import jinja2

from .config import Config, Env
from .delivery import DeliveryError
from .delivery.email import OutboxTransport, SmtpSettings, SmtpTransport
from .delivery.message import OutgoingEmail, build_email, make_message_id
from .rates import SharedRates
from .render import EmailParts, inline_css
from .store import Store
from .text import one_line

log = logging.getLogger(__name__)

SUBJECTS = {
    "confirm": "Confirm your paper digest subscription",
    "manage": "Your link to manage your paper digest",
}


def compose(kind: str, to: str, config: Config, env: jinja2.Environment, **context) -> OutgoingEmail:
    """The `kind` mail ("confirm" or "manage") for address `to`."""
    now = datetime.now(UTC)
    values = {"subject": SUBJECTS[kind], "email": to, **context}
    parts = EmailParts(
        subject=one_line(SUBJECTS[kind]),
        text=env.get_template(f"web/mail_{kind}.txt").render(values),
        html=inline_css(env.get_template(f"web/mail_{kind}.html").render(values)),
    )
    return build_email(
        parts,
        sender=config.email_from,
        to=to,
        message_id=make_message_id(f"web-{kind}", now, config.email_from),
        date=now,
    )


def send(
    message: OutgoingEmail, env: Env, kind: str, open_store: Callable[[], Store] | None = None
) -> str | None:
    """Send one page mail; returns where it went, or None (logged) when it failed: the reader
    can ask again, and the page they saw cannot know, so it said the same either way. Over SMTP
    it keeps to DIGESTBOT_SMTP_RATE with the digests (the slots they share in `open_store()`'s
    database, opened only to take one; no store is held while it waits or sends)."""
    try:
        if env.smtp_url:
            if open_store and env.smtp_rate:  # the relay's limit counts every message
                _wait_for_slot(open_store, env.smtp_rate)
            transport = SmtpTransport(SmtpSettings.from_url(env.smtp_url), timeout=env.smtp_timeout)
            try:
                where = transport.send(message)
            finally:
                transport.close()
        else:
            stem = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-web-{kind}-{secrets.token_hex(3)}"  # safe as is
            where = OutboxTransport(env.outbox).send(message, stem)
    except (DeliveryError, ValueError) as e:
        log.error("web %s mail not sent: %s", kind, e)
        return None
    log.info("web %s mail sent -> %s", kind, where)
    return where


def _wait_for_slot(open_store: Callable[[], Store], per_second: float) -> None:
    """Reserve this message's slot of the SMTP rate (one short write), then wait for it with the
    database closed."""
    waits: list[float] = []
    with open_store() as store:
        SharedRates(store, sleep=waits.append).wait("smtp", per_second)
    for delay in waits:
        time.sleep(delay)
