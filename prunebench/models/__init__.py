"""Model implementations behind the bundled model-family plugins (YOLOv5 n/s/m) and shared box operations."""
