"""Transports: SMTP, the outbox folder, Slack. They move finished messages; they decide nothing."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message was not accepted. `breaks_all` says that the transport itself is unusable (so
    later messages would fail too); `unconfirmed` that the message may have arrived all the same
    (the server had all of it when the answer was lost), so it must not be sent again at once;
    `address_refused` that the server refused the address itself for good (no such mailbox or
    domain), so trying it again cannot help until the address changes. Any other failure may
    pass later (a relay set up wrong refuses every message until it is fixed): it is retried."""

    def __init__(
        self, message: str, breaks_all: bool = False, unconfirmed: bool = False, address_refused: bool = False
    ):
        super().__init__(message)
        self.breaks_all = breaks_all  # the transport is unusable: later messages would fail too
        self.unconfirmed = unconfirmed
        self.address_refused = address_refused
