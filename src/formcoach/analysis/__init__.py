"""The analysis service."""
