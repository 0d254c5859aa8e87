"""Signed one-click unsubscribe links. Pure: HMAC over the subscriber id with DIGESTBOT_SECRET.

A token names exactly one subscriber and cannot be forged or altered without the secret; it
carries no email address, so a link reveals nothing about who else is subscribed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

_PURPOSE = b"digestbot-unsubscribe-v1:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(subscriber_id: str, secret: str) -> str:
    """`<id, base64url>.<HMAC-SHA256, base64url>`."""
    sid = subscriber_id.encode("utf-8")
    mac = hmac.new(secret.encode("utf-8"), _PURPOSE + sid, hashlib.sha256).digest()
    return f"{_b64(sid)}.{_b64(mac)}"


def read_token(token: str, secret: str) -> str | None:
    """The subscriber id a token names, or None when it is malformed, forged or altered."""
    try:
        sid_part, mac_part = token.strip().split(".")
        sid = _unb64(sid_part)
    except (ValueError, UnicodeDecodeError):
        return None
    expected = hmac.new(secret.encode("utf-8"), _PURPOSE + sid, hashlib.sha256).digest()
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
