"""The one doubling backoff of the job paths (stage retries after a transient failure, stages
waiting for disk space, in-process and Celery alike), so they cannot drift apart."""

from __future__ import annotations

import math

# 2**30 base periods is already decades: a higher exponent only risks float overflow.
_MAX_EXPONENT = 30


def doubling_backoff(base_s: float, attempt: int, max_s: float = math.inf) -> float:
    """The wait before retry number ``attempt`` (0 for the first): base, 2x, 4x... capped."""
    return min(float(base_s) * 2.0 ** min(max(attempt, 0), _MAX_EXPONENT), float(max_s))
