"""Studies built from many renders: sweeps over one setting, the motion meter, the motion target and the
knob map."""
from ._knobmap import KNOB_MAP_VALUES, SMALL_KNOB_MAP_VALUES, KnobMap, knob_map, knob_map_renders
from ._motion import METER_BUCKETS, MotionReading, read_motion
from ._sweep import MAX_SWEEP_SEEDS, MAX_SWEEP_VALUES, SWEEPABLE, SweepResult, parse_sweep, sweep
from ._target import (
    DEFAULT_BUDGET,
    DEFAULT_KNOB,
    MAX_BUDGET,
    MotionTarget,
    TargetResult,
    find_motion_target,
    parse_target,
)

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_KNOB",
    "KNOB_MAP_VALUES",
    "MAX_BUDGET",
    "SMALL_KNOB_MAP_VALUES",
    "KnobMap",
    "MotionTarget",
    "TargetResult",
    "find_motion_target",
    "knob_map",
    "knob_map_renders",
    "parse_target",
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
