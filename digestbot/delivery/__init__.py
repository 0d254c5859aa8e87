"""Transports: SMTP, the outbox folder, Slack. They move finished messages; they decide nothing."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message was not accepted. `transient` says whether trying again later may help."""

    def __init__(self, message: str, transient: bool = True):
        super().__init__(message)
        self.transient = transient
