"""Typed errors: each says what went wrong and what to do about it."""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """A setting is missing or malformed; the message names the variable."""


class NormalizationError(HubError):
    """A provider payload was accepted but cannot be turned into events.

    The payload is kept in the dead-letter stream with this message as the reason.
    """

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


class UnreadableBody(NormalizationError):
    """The bytes are not even the provider's wire format (not JSON, not base64 ...)."""


class ProviderError(HubError):
    """A provider answered with an error (possibly inside an HTTP 200)."""

    def __init__(self, provider: str, code: str, message: str = "") -> None:
        super().__init__(f"{provider} error {code}: {message}".rstrip(": "))
        self.provider = provider
        self.code = code
        self.message = message


class CredentialsRefused(ProviderError):
    """The provider refused our credentials inside an answer (ALOD's ``param: authkey``).

    The account is at fault, not the shipment: the poller pauses the account as for a 401.
    """


class NotFound(HubError):
    """The thing asked for does not exist (or is not the caller's to see)."""


class Conflict(HubError):
    """The request clashes with existing state (e.g. a shipment already registered)."""
