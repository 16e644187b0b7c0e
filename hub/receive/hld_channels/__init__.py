"""HLD live events over Pusher Channels: a protocol 7 client and the ``hub pusher`` process.

:mod:`~hub.pusher.protocol` frames and close codes; :mod:`~hub.pusher.connection` one
WebSocket with its channels; :mod:`~hub.pusher.leases` which worker holds which channel;
:mod:`~hub.pusher.coalesce` position throttling; :mod:`~hub.pusher.gapfill` recovery
from HLD's tracking endpoint; :mod:`~hub.pusher.listener` ties them together.
"""
