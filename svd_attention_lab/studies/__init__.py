"""Studies built from many renders: sweeps over one setting and the motion meter."""

from ._motion import METER_BUCKETS, MotionReading, read_motion
from ._sweep import MAX_SWEEP_SEEDS, MAX_SWEEP_VALUES, SWEEPABLE, SweepResult, parse_sweep, sweep

__all__ = [
    "MAX_SWEEP_SEEDS",
    "MAX_SWEEP_VALUES",
    "METER_BUCKETS",
    "SWEEPABLE",
    "MotionReading",
    "SweepResult",
    "parse_sweep",
    "read_motion",
    "sweep",
]
