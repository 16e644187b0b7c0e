"""Forms that make a secret (an endpoint, a new signing secret, an API key, a stream credential) act once.

Their answer shows the secret once, so it is the POST's own page (the secret is never stored to
show it later); reloading that page would post the form again and make a second secret. Each
such form carries a fresh nonce, and a nonce is accepted once per session: a repeated post is
sent to the section's page instead (303) with a note, and nothing new is made.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from hub import keys
from hub.console.auth import SignedIn
from hub.console.forms import FormError
from hub.registry.api_keys import digest

FIELD = "once"
USED_TTL_S = 86_400  # longer than any session lasts
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def nonce() -> str:
    """A new form's nonce (templates put it in a hidden ``once`` field)."""
    return secrets.token_urlsafe(16)


async def first_use(redis: Any, who: SignedIn) -> bool:
    """True the first time this session posts the form's nonce; False for a repeat (a reload)."""
    given = who.form.get(FIELD, "")
    if not _NONCE.fullmatch(given):
        raise FormError(400, "this form is out of date: open the page again and resend it")
    key = keys.console_form_used(digest(who.session.id), given)
    return bool(await redis.set(key, "1", nx=True, ex=USED_TTL_S))
