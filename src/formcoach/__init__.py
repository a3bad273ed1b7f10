"""formcoach: running and exercise form analysis from a phone video."""

__version__ = "0.1.0"
