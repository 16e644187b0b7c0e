"""The merchant console (``/console``): server-rendered pages over the same data the API serves.

A merchant signs in with an API key, which is exchanged for a short-lived server-side session
(:mod:`hub.console.sessions`); the key never reaches the browser. Pages are Jinja2 templates
(``templates/``), with small plain scripts and styles from ``hub/static/console`` (no build step,
no CDN, no inline script: the hub's CSP applies). Each page module exposes ``routes``;
:mod:`hub.console.routes` gathers them, and :mod:`hub.console.nav` lists the navigation.
"""
