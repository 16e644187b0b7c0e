"""Merchant webhooks: endpoints subscribe to normalized events and get them signed, retried, in order.

Flow: the :mod:`~hub.webhooks.dispatcher` reads ``hub:events`` in a consumer group and
turns each match into a delivery (:mod:`~hub.webhooks.deliveries`); delivery workers
(:mod:`~hub.webhooks.engine`, woken by RQ jobs in ``workers/delivery_worker.py``) claim due
deliveries and send them (:mod:`~hub.webhooks.sender`), retrying on the schedule in
:mod:`~hub.webhooks.retry`.
"""
