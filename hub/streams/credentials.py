"""Stream credentials: Redis ACL users that may read one merchant's own stream and nothing else.

Redis enforces the isolation itself: the user's only key pattern is the merchant's stream
(:func:`hub.keys.merchant_events`) and its only commands are those a consumer group needs,
so a leaked credential reads that merchant's events and cannot write, read another key,
or touch the server. The password is shown once; Redis gets only its SHA-256 (``#``),
and the hub keeps what listing needs (user name, creation time) and that digest, so a server
restarted without its ACL gets the user back (:mod:`hub.streams.acl_keeper`).

ACLs are per node: on a Redis Cluster every change is applied on every node
(each node named). Revoking first switches the user off and drops its
passwords (no new logins), then kills its connections and deletes it, on every node.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis.exceptions import NoPermissionError, ResponseError

from hub import keys
from hub.errors import HubError, NotFound
from hub.infra.capped import hset_under_cap
from hub.infra.redis_clients import is_cluster
from hub.registry import merchants
from hub.settings import Settings

USER_PREFIX = "stream."  # ACL user names: stream.<merchant_id>.<12 hex>
MAX_PER_MERCHANT = 20
MAX_DESCRIPTION = 200

# A consumer group's commands on its own stream (never XADD, XDEL, XTRIM, DEL: the stream is
# the hub's to write; its groups are the merchant's), and what clients send on connecting.
STREAM_COMMANDS = [
    "xreadgroup",
    "xack",
    "xpending",
    "xautoclaim",
    "xclaim",
    "xinfo",
    "xrange",
    "xrevrange",
    "xlen",
    "xgroup|create",
    "xgroup|createconsumer",
    "xgroup|delconsumer",
    "xgroup|setid",
    "xgroup|destroy",
]
CONNECTION_COMMANDS = ["ping", "hello", "auth", "client|setname", "client|getname", "client|setinfo"]
# What a cluster-aware client needs to find the node of the stream's slot.
CLUSTER_COMMANDS = [
    "cluster|slots",
    "cluster|shards",
    "cluster|nodes",
    "command",
    "readonly",
    "readwrite",
    "asking",
]


class AclNotPermitted(HubError):
    """The hub's own Redis user may not manage ACL users: a deployment to fix, not the caller's fault."""


class TooManyCredentials(Exception):
    """The merchant holds ``MAX_PER_MERCHANT`` credentials: revoke one first."""


@dataclass(frozen=True)
class Credential:
    user: str
    created_ms: int
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"user": self.user, "created_ms": self.created_ms, "description": self.description}


@dataclass(frozen=True)
class NewCredential:
    credential: Credential
    password: str
    redis_url: str
    stream: str


def acl_rules(merchant_id: str, password_sha256: str, cluster: bool, database: int = 0) -> list[str]:
    """The whole ACL of one stream user, from nothing (``reset``): read-only consumer of one stream.

    ``database``: the hub's database number; a client selects it on connecting when it is not 0.
    """
    commands = STREAM_COMMANDS + CONNECTION_COMMANDS + (CLUSTER_COMMANDS if cluster else [])
    commands += ["select"] if database else []
    return [
        "reset",
        "on",
        f"#{password_sha256}",
        "resetchannels",
        "-@all",
        *(f"+{command}" for command in commands),
        f"~{_escaped(keys.merchant_events(merchant_id))}",
    ]


async def create(redis: Any, settings: Settings, merchant_id: str, description: str = "") -> NewCredential:
    user = f"{USER_PREFIX}{merchant_id}.{secrets.token_hex(6)}"
    password = secrets.token_hex(32)
    digest = hashlib.sha256(password.encode()).hexdigest()
    credential = Credential(user, int(time.time() * 1000), description)
    # The digest lets a restarted server get the user back (hub.streams.acl_keeper); never the password.
    record = json.dumps({"created_ms": credential.created_ms, "description": description, "sha256": digest})
    await merchants.keep_indexed(redis, merchant_id)  # where a restart's restore looks for its users
    # Recorded first: a user Redis holds is always one the merchant can see and revoke.
    if not await hset_under_cap(
        redis, keys.merchant_stream_users(merchant_id), user, record, MAX_PER_MERCHANT
    ):
        raise TooManyCredentials(
            f"a merchant holds at most {MAX_PER_MERCHANT} stream credentials; revoke one first"
        )
    rules = acl_rules(merchant_id, digest, is_cluster(redis), database(settings))
    await on_every_node(redis, "ACL", "SETUSER", user, *rules)
    await _save(redis)
    return NewCredential(
        credential, password, public_url(settings, user, password), keys.merchant_events(merchant_id)
    )


async def listing(redis: Any, merchant_id: str) -> list[Credential]:
    raw: dict[str, str] = await redis.hgetall(keys.merchant_stream_users(merchant_id))
    found = [_credential(user, record) for user, record in raw.items()]
    return sorted(found, key=lambda c: (c.created_ms, c.user))


async def revoke(redis: Any, merchant_id: str, user: str) -> None:
    """Effective at once: no new login, open connections closed, the user gone (every node)."""
    record = await redis.hget(keys.merchant_stream_users(merchant_id), user)
    if record is None:
        raise NotFound(f"stream credential {user!r} does not exist")
    # Marked first: a restore running meanwhile does not bring the user back (hub.streams.acl_keeper).
    await redis.hset(
        keys.merchant_stream_users(merchant_id), user, json.dumps({**json.loads(record), "revoking": True})
    )
    await on_every_node(redis, "ACL", "SETUSER", user, "off", "resetpass", "-@all", "resetkeys")
    await _kill(redis, user)
    await on_every_node(redis, "ACL", "DELUSER", user)
    await _save(redis)
    await redis.hdel(keys.merchant_stream_users(merchant_id), user)


async def suspend(redis: Any, merchant_id: str) -> None:
    """Every credential of the merchant switched off and its connections closed; :func:`resume` undoes it.

    For an operator disabling a merchant: the users keep their passwords, so nothing changes
    for the merchant's consumers but that they cannot connect until then.
    """
    for credential in await listing(redis, merchant_id):
        await on_every_node(redis, "ACL", "SETUSER", credential.user, "off")
        await _kill(redis, credential.user)
    await _save(redis)


async def resume(redis: Any, merchant_id: str) -> None:
    for credential in await listing(redis, merchant_id):
        await on_every_node(redis, "ACL", "SETUSER", credential.user, "on")
    await _save(redis)


def public_url(settings: Settings, user: str, password: str) -> str:
    """``redis[s]://user:password@host:port[/db]``: HUB_MERCHANT_STREAM_PUBLIC_URL's address, else
    HUB_REDIS_URL's, and the hub's database when it is not 0."""
    parts = urlsplit(settings.merchant_stream.public_url or settings.redis_url or "")
    scheme = parts.scheme or "redis"
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    db = database(settings)
    return f"{scheme}://{user}:{password}@{host}:{parts.port or 6379}" + (f"/{db}" if db else "")


def database(settings: Settings) -> int:
    """The database number in HUB_REDIS_URL's path (``redis://host:port/3``), 0 when none."""
    path = urlsplit(settings.redis_url or "").path.strip("/")
    return int(path) if path.isdigit() else 0


async def on_every_node(redis: Any, *command: str) -> None:
    """``command`` on the one server, or on every node of a cluster (ACLs are per node)."""
    try:
        await _run(redis, *command)
    except NoPermissionError as exc:
        raise AclNotPermitted(
            f"the hub's Redis user may not run {command[0]} {command[1]} ({exc}): grant it "
            "+acl|setuser +acl|deluser +acl|save +client|kill (docs/events.md)"
        ) from None


async def _run(redis: Any, *command: str) -> None:
    if is_cluster(redis):
        # Every node, primaries and replicas, named one by one (redis-py's ALL_NODES flag goes
        # through its command policies, which route ACL by its subcommand's keys: none).
        await redis.execute_command(*command, target_nodes=redis.get_nodes())
    else:
        await redis.execute_command(*command)


async def _kill(redis: Any, user: str) -> None:
    """Close every connection logged in as ``user``, on every node."""
    try:
        await on_every_node(redis, "CLIENT", "KILL", "USER", user)
    except ResponseError as exc:  # a node that never had the user (added to the cluster since)
        if "No such user" not in str(exc):
            raise


async def _save(redis: Any) -> None:
    """Persist the ACL where the server keeps an ACL file (``aclfile``); without one, nothing to do."""
    try:
        await on_every_node(redis, "ACL", "SAVE")
    except ResponseError as exc:
        if "not configured to use an ACL file" not in str(exc):
            raise


def _credential(user: str, record: str) -> Credential:
    fields = json.loads(record)
    return Credential(user, int(fields["created_ms"]), str(fields.get("description") or ""))


def _escaped(key: str) -> str:
    """``key`` as an ACL glob that matches it alone (``*?[]\\`` taken literally)."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in key)
