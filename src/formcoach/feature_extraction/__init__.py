"""The feature_extraction service."""
