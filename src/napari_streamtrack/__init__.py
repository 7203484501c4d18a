"""napari plugin for streamtrack (placeholder until the plugin issue)."""
__version__ = "0.1.0"
