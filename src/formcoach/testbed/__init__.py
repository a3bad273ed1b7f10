"""The test-bed: synthetic ground-truth renders and the drill-video self-check.

Nothing in the product calls it. Tests and benchmarks do: `groundtruth.py` renders figures
with known angles, cadence and faults for the accuracy tests, and `selfcheck.py` takes each
generated drill video back through pose estimation, features and analysis to confirm it shows
its own drill. It sits apart so that video_generation needs none of those services.
"""
