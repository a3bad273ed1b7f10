"""The video_processing service."""
