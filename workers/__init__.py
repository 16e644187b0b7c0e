"""The poller: keeps every registered shipment current by asking its provider, on RQ.

Design (why it looks like this):

* **Due-time index.** One Redis sorted set (:data:`hub.keys.POLL_DUE`) holds every
  polled shipment scored by when its next poll falls due (ms). Registration adds the
  shipment with score 0, so a new shipment is polled without anyone calling us.
* **Scheduler** (``hub scheduler``, :mod:`workers.scheduler`). Claims due shipments with
  one Lua script that also pushes their score forward by a lease, so several schedulers
  never enqueue the same poll twice, and a poll lost with its worker comes back when the
  lease runs out. Claimed shipments are enqueued in batches: one RQ job per batch.
* **Workers** (``hub worker``: RQ ``SimpleWorker``). RQ workers are synchronous, so each
  job polls its whole batch concurrently on an event loop; the worker keeps that loop, its
  Redis pool and its HTTP pool across jobs (:mod:`workers.jobs`); that is what lets a
  2-core host keep 10,000 shipments current against a provider answering in 200 ms.
* **Backfill.** A scheduler starting adds tracked shipments the index misses
  (:func:`workers.schedule.backfill`), so shipments registered before it existed are polled.
* **Each poll** (:mod:`workers.poll`) asks the shared rate limiter, calls the
  provider's client, hands the answer to ``Ingestor.ingest_raw`` (which dedups by event
  id) and writes the next due time back: cadence on success, backoff with jitter on
  failure, pause on 401, nothing once a terminal status was confirmed.
"""
