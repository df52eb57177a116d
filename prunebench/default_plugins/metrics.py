"""Bundled plugin: metrics (being built)."""
