"""A consumer of the hub's events with a consumer group (at-least-once).

A merchant reads its own stream with its stream credentials: HUB_REDIS_URL is the redis_url
and HUB_STREAM the stream that POST /v1/stream-credentials answered; the operator reads hub:events.
"""

import json
import os

import redis

r = redis.Redis.from_url(os.environ.get("HUB_REDIS_URL", "redis://127.0.0.1:6399/0"), decode_responses=True)
stream = os.environ.get("HUB_STREAM", "hub:events")
group, consumer = "my-app", os.environ.get("CONSUMER", "worker-1")
try:
    r.xgroup_create(stream, group, id="0", mkstream=True)  # "0": start from the oldest kept event
except redis.ResponseError as error:
    if "BUSYGROUP" not in str(error):  # the group already exists: carry on where it left off
        raise

while True:
    # First our own unacknowledged entries (after a crash), then new ones (">").
    for start in ("0", ">"):
        for _stream, entries in r.xreadgroup(group, consumer, {stream: start}, count=100, block=5000) or []:
            for entry_id, fields in entries:
                event = json.loads(fields["event"])
                data = event["data"]
                print(event["type"], data["shipment_id"], data["status"], event["sequence"], flush=True)
                r.xack(stream, group, entry_id)  # acknowledge only once handled
