"""The advice_generation service."""
