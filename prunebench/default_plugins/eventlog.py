"""Bundled plugin: eventlog (being built)."""
