"""Bundled plugin: executors (being built)."""
