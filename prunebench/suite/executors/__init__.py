"""Executors' machinery: dependency order and failure propagation (local) and Ray tasks (ray)."""
