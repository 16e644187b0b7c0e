"""Endpoint secrets: made once, stored encrypted under a master key, used to sign requests.

Signatures follow Standard Webhooks and are computed with its official package so a
receiver's ``standardwebhooks.Webhook.verify`` agrees with us by construction.
Encryption at rest uses Fernet (AES-128-CBC + HMAC) from ``cryptography``;
``MultiFernet`` lets the master key itself be rotated (newest key first).
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from standardwebhooks.webhooks import Webhook

from hub.errors import ConfigError

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_BYTES = 32
_SEALED, _CLEAR = "fernet:", "clear:"
OPENED_CACHE_MAX = 10_000


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretBox:
    """Seals secrets for Redis; without master keys they are stored in clear (and say so)."""

    def __init__(self, master_keys: tuple[str, ...]) -> None:
        self._opened: dict[str, str] = {}
        try:
            self._fernet = MultiFernet([Fernet(key) for key in master_keys]) if master_keys else None
        except ValueError:
            raise ConfigError(
                "HUB_WEBHOOK_MASTER_KEYS must be Fernet keys (32 url-safe base64 bytes each); "
                "make one with: python -c "
                "'from cryptography.fernet import Fernet; print(Fernet.generate_key())'"
            ) from None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return _CLEAR + secret
        return _SEALED + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret; opened ones are remembered so a busy worker decrypts each once, not per request."""
        secret = self._opened.get(stored)
        if secret is None:
            secret = self._open(stored)
            if len(self._opened) >= OPENED_CACHE_MAX:
                self._opened.clear()
            self._opened[stored] = secret
        return secret

    def _open(self, stored: str) -> str:
        if stored.startswith(_CLEAR):
            return stored.removeprefix(_CLEAR)
        if self._fernet is None:
            raise ConfigError("webhook secrets are encrypted but HUB_WEBHOOK_MASTER_KEYS is not set")
        try:
            return self._fernet.decrypt(stored.removeprefix(_SEALED).encode()).decode()
        except InvalidToken:
            raise ConfigError(
                "a webhook secret does not decrypt with any of HUB_WEBHOOK_MASTER_KEYS"
            ) from None


def signature(msg_id: str, timestamp_s: int, body: str, endpoint_secrets: list[str]) -> str:
    """The ``webhook-signature`` header: one ``v1,<sig>`` per live secret, space separated."""
    when = datetime.fromtimestamp(timestamp_s, UTC)
    return " ".join(Webhook(secret).sign(msg_id, when, body) for secret in endpoint_secrets)
