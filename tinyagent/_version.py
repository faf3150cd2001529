"""The package version, in one place (the tracer names itself with it)."""

__version__ = "0.1.0"
