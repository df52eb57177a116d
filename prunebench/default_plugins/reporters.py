"""Bundled plugin: reporters (being built)."""
