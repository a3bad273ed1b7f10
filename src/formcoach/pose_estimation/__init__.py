"""The pose_estimation service."""
