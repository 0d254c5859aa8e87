"""Transports: SMTP, the outbox folder, Slack. They move finished messages; they decide nothing."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message was not accepted. `transient` says whether trying again later may help;
    `breaks_all` that the transport itself is unusable (so later messages would fail too);
    `unconfirmed` that the message may have arrived all the same (the server had all of it
    when the answer was lost), so it must not be sent again at once."""

    def __init__(
        self, message: str, transient: bool = True, breaks_all: bool = False, unconfirmed: bool = False
    ):
        super().__init__(message)
        self.transient = transient
        self.breaks_all = breaks_all  # the transport is unusable: later messages would fail too
        self.unconfirmed = unconfirmed
