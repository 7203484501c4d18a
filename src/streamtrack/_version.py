"""The version of streamtrack, in a module of its own: code inside the package reads
it from here, not from the package's ``__init__`` (which lazily imports that code)."""
__version__ = "0.1.0"
