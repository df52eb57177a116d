"""Bundled plugin: datasets (being built)."""
