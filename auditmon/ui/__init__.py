"""The live terminal UI (Textual): one app, its screens and widgets, one stylesheet."""
