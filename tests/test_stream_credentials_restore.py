"""Stream credentials outlive a Redis restart that forgot its ACL (no ``aclfile``).

The data survives (append-only file); the ACL users do not. ``hub serve`` notices the new server
and sets every recorded credential again: the merchant's consumer reads on with the same URL,
a revoked credential stays gone, and a disabled merchant's stays switched off until it is enabled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError

from hub.api.app import create_app
from hub.settings import Settings
from tests.chaos.processes import restartable_redis
from tests.conftest import ADMIN_TOKEN, admin_headers, bearer, create_merchant
from tests.servers import ServerThread, eventually
from tests.stream_access import CREDENTIALS, client_of, new_credential


async def _reads(credential: dict[str, Any]) -> bool:
    client = client_of(credential)
    try:
        await client.xlen(credential["stream"])
        return True
    except (AuthenticationError, ConnectionError, ResponseError):
        return False
    finally:
        await client.aclose()


async def test_credentials_are_set_again_after_a_restart_that_lost_them(tmp_path: Path) -> None:
    with restartable_redis(tmp_path / "redis") as server:
        env = {"HUB_REDIS_URL": server.url, "HUB_ADMIN_TOKEN": ADMIN_TOKEN}
        settings = Settings.from_env(env)
        with ServerThread(lambda url: create_app(settings.replace(public_url=url))) as hub:
            async with httpx.AsyncClient(base_url=hub.url, timeout=10) as http:
                shop, paused = await create_merchant(http, "Shop"), await create_merchant(http, "Paused")
                kept, revoked = await new_credential(http, shop), await new_credential(http, shop)
                switched_off = await new_credential(http, paused)
                gone = await http.delete(f"{CREDENTIALS}/{revoked['user']}", headers=bearer(shop["api_key"]))
                assert gone.status_code == 204
                disable = await http.post(f"/v1/merchants/{paused['id']}/disable", headers=admin_headers())
                assert disable.status_code == 200, disable.text
                assert await _reads(kept) and not await _reads(switched_off)

                server.stop()
                server.start()

                await eventually(lambda: _reads(kept), "the credential to read its stream again", 30)
                assert not await _reads(revoked), "a revoked credential stays revoked"
                assert not await _reads(switched_off), "a disabled merchant's credential stays off"
                enable = await http.post(f"/v1/merchants/{paused['id']}/enable", headers=admin_headers())
                assert enable.status_code == 200, enable.text
                await eventually(lambda: _reads(switched_off), "the enabled merchant's credential to work")
