"""Forms that make a secret (an endpoint, a new signing secret, an API key, a stream credential) act once.

Their answer shows the secret once, so it is the POST's own page (the secret is never stored to
show it later); reloading that page would post the form again and make a second secret. Each
such form carries a fresh nonce, and a nonce is accepted once per session: the used ones are
fields of the session's own hash (``used:<nonce>``, gone with the session), and a repeated post
is sent to the section's page instead (303) with a note, making nothing.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from hub import keys
from hub.console.auth import Refused, SignedIn
from hub.console.forms import FormError
from hub.registry.api_keys import digest

FIELD = "once"
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Only on a live session: a session that expired meanwhile is not brought back without its TTL.
_MARK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], ARGV[1], '1')
"""


def nonce() -> str:
    """A new form's nonce (templates put it in a hidden ``once`` field)."""
    return secrets.token_urlsafe(16)


async def first_use(redis: Any, who: SignedIn) -> bool:
    """True the first time this session posts the form's nonce; False for a repeat (a reload)."""
    given = who.form.get(FIELD, "")
    if not _NONCE.fullmatch(given):
        raise FormError(400, "this form is out of date: open the page again and resend it")
    marked = int(await redis.eval(_MARK, 1, keys.console_session(digest(who.session.id)), f"used:{given}"))
    if marked < 0:
        raise Refused(401, "your console session has ended: sign in again")
    return marked == 1
