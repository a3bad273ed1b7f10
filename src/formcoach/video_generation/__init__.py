"""The video_generation service."""
