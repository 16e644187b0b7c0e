"""Receive: provider payloads arriving at the hub (webhooks, Pusher channels)."""
