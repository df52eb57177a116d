"""The bundled plugins, registered through the same hooks as third-party ones (see plugins.DEFAULT_PLUGINS)."""
