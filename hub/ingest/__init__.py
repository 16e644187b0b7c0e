"""Inbox and normalize: accepted payloads become events, or dead letters."""
