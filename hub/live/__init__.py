"""Live fan-out: normalized events to WebSockets, from any hub process.

Each process runs one :class:`~hub.live.fanout.Fanout` that reads ``hub:events`` once
for all its sockets and hands every entry to the subscribers of its shipment and its
merchant. Sockets speak either the native protocol (:mod:`hub.live.native`, at
``/v1/live``) or Pusher Channels protocol 7 (:mod:`hub.live.pusher`, at ``/app/{key}``).
"""
