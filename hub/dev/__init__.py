"""``hub dev``: everything on one machine, the embedded server, emulators and the demo."""
