"""Monitors: what runs a feed into the model and a recording.  ``pipeline`` is the part
they share; ``headless`` runs it on the caller's thread, ``live`` on a thread of its own
for the UI, which it feeds with snapshots and answers (``requests``)."""
