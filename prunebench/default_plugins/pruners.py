"""Bundled plugin: pruners (being built)."""
