"""Loading the reference ranges (reference.yaml, or the file named by settings.reference_file)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

import yaml

from formcoach.analysis.schemas import MeasurementFile, MeasurementSpec, Reference

DEFAULT_REFERENCE_FILE = Path(__file__).with_name("reference.yaml")
MEASUREMENT_FILE = Path(__file__).with_name("measurement.yaml")


def reference_path(override: Path | None = None) -> Path:
    return override if override is not None else DEFAULT_REFERENCE_FILE


def load_reference(path: Path | None = None) -> Reference:
    """The validated reference; a file missing a source or a bound fails loudly here."""
    resolved = reference_path(path).resolve()
    # The modification time is part of the cache key so an edited file is picked up.
    return _load(str(resolved), resolved.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(path: str, _mtime_ns: int) -> Reference:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    reference = Reference.model_validate(data)
    for movement, profile in reference.movements.items():
        for key, spec in profile.judged.items():
            if spec.low > spec.high:
                raise ValueError(f"{path}: {movement}.{key}: low {spec.low} > high {spec.high}")
    return reference


@lru_cache(maxsize=1)
def _measurement() -> MeasurementFile:
    with open(MEASUREMENT_FILE, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    loaded = MeasurementFile.model_validate(data)
    for key, spec in loaded.metrics.items():
        if spec.plausible[0] >= spec.plausible[1] or spec.uncertainty < 0:
            raise ValueError(f"{MEASUREMENT_FILE}: {key}: bad plausible range or uncertainty")
    return loaded


def measurement_for(key: str) -> MeasurementSpec | None:
    """Plausible range and uncertainty of a metric: its own entry, else the first pattern."""
    metrics = _measurement().metrics
    if key in metrics:
        return metrics[key]
    return next((spec for name, spec in metrics.items() if fnmatchcase(key, name)), None)
