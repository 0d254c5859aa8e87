"""Signed links: one-click unsubscribe, and thumbs up/down on one paper. Pure: HMAC with
DIGESTBOT_SECRET over the purpose and the payload. Also what a Slack rating button carries
(`button_value`: unsigned, since Slack signs the click and only the bot posts its buttons).

The web pages' tokens (confirm a sign-up, manage a digest) are itsdangerous timed signatures:
each purpose has its own salt, so a token made for one purpose never passes for another, and
each carries its signing time, so it expires (`max_age`). All of them derive from
DIGESTBOT_SECRET: rotating it invalidates every link ever sent.

An unsubscribe token names exactly one subscriber, a feedback token one subscriber and one
paper; neither can be forged, altered or used for the other purpose without the secret. They
carry no email address, so a link reveals nothing about who else is subscribed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

from itsdangerous import BadData, URLSafeTimedSerializer

_PURPOSE = b"digestbot-unsubscribe-v1:"
_FEEDBACK = b"digestbot-feedback-v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(subscriber_id: str, secret: str, purpose: bytes = _PURPOSE) -> str:
    """`<payload, base64url>.<HMAC-SHA256, base64url>`."""
    sid = subscriber_id.encode("utf-8")
    mac = hmac.new(secret.encode("utf-8"), purpose + sid, hashlib.sha256).digest()
    return f"{_b64(sid)}.{_b64(mac)}"


def read_token(token: str, secret: str, purpose: bytes = _PURPOSE) -> str | None:
    """The payload (a subscriber id) a token names, or None when it is malformed, forged or altered."""
    try:
        sid_part, mac_part = token.strip().split(".")
        sid = _unb64(sid_part)
    except (ValueError, UnicodeDecodeError):
        return None
    expected = hmac.new(secret.encode("utf-8"), purpose + sid, hashlib.sha256).digest()
    # Compare the text as issued, not the decoded bytes: base64 decoding is lenient (unused low
    # bits, '+' for '-'), and an altered token must be refused even when it decodes the same.
    if sid_part != _b64(sid) or not hmac.compare_digest(mac_part.encode(), _b64(expected).encode()):
        return None
    try:
        return sid.decode("utf-8")
    except UnicodeDecodeError:
        return None


def unsubscribe_url(base_url: str, subscriber_id: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}/unsubscribe?{urlencode({'t': make_token(subscriber_id, secret)})}"


def feedback_token(subscriber_id: str, paper_key: str, secret: str) -> str:
    """A token naming one subscriber and one paper: `id\nkey`. An id never holds a line break;
    a key may (a feed's guid is the key of a paper without an arXiv id)."""
    return make_token(f"{subscriber_id}\n{paper_key}", secret, _FEEDBACK)


def read_feedback_token(token: str, secret: str) -> tuple[str, str] | None:
    """(subscriber id, paper key) of a feedback token, or None when it is not a valid one."""
    payload = read_token(token, secret, _FEEDBACK)
    sid, newline, key = (payload or "").partition("\n")
    return (sid, key) if sid and newline and key else None


def feedback_url(base_url: str, subscriber_id: str, paper_key: str, vote: str, secret: str) -> str:
    """The "more like this" (vote `up`) or "less like this" (`down`) link of one paper."""
    query = urlencode({"t": feedback_token(subscriber_id, paper_key, secret), "vote": vote})
    return f"{base_url.rstrip('/')}/feedback?{query}"


# --- timed tokens for the web pages ----------------------------------------------------------

CONFIRM = "confirm-signup"  # purposes (itsdangerous salts)
MANAGE = "manage"
CONFIRM_MAX_AGE = 48 * 3600
MANAGE_MAX_AGE = 30 * 24 * 3600  # a digest's manage link works for a month; then ask for a new one


def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"digestbot-{purpose}-v1")


def sign(payload: str | list, secret: str, purpose: str) -> str:
    """A URL-safe token for `payload`, good only for `purpose`, stamped with the time now."""
    return _serializer(secret, purpose).dumps(payload)


def unsign(
    token: str, secret: str, purpose: str, max_age: int, now: float | None = None
) -> str | list | None:
    """The payload of a token made by `sign` for this purpose no more than `max_age` seconds
    ago; None when it is forged, altered, for another purpose, expired or malformed."""
    if not token or len(token) > 2000:
        return None
    serializer = _serializer(secret, purpose)
    try:
        if now is None:
            return serializer.loads(token, max_age=max_age)
        payload, signed_at = serializer.loads(token, return_timestamp=True)
        return payload if 0 <= now - signed_at.timestamp() <= max_age else None
    except (BadData, UnicodeError, ValueError, TypeError):
        return None


def manage_url(base_url: str, subscriber_id: str, secret: str) -> str:
    """The signed "Manage your digest" link (a month's validity)."""
    return f"{base_url.rstrip('/')}/manage/login?{urlencode({'t': sign(subscriber_id, secret, MANAGE)})}"


def button_value(subscriber_id: str, paper_key: str) -> str:
    """What a Slack digest's rating button carries: its digest and its paper. The paper alone
    does not say whose rating it is: a channel may get several digests, with the same paper."""
    return json.dumps(
        {"digest": subscriber_id, "paper": paper_key}, separators=(",", ":"), ensure_ascii=False
    )


def read_button_value(value: str) -> tuple[str | None, str]:
    """(subscriber id, paper key) from a rating button's value; a value that is only the paper's
    key (the buttons of digests sent before, or of a template that sets `p.key`) names no digest."""
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            data = None
        if (
            isinstance(data, dict)
            and isinstance(data.get("digest"), str)
            and isinstance(data.get("paper"), str)
        ):
            return data["digest"], data["paper"]
    return None, value
