"""Command-line flags for the multipliers and the render settings, shared by every ``python -m`` tool."""

from __future__ import annotations

import argparse
from typing import Sequence

from ._multipliers import FIELDS, MULTIPLIER_DEFAULT, MULTIPLIER_MAX, MULTIPLIER_MIN, REGIONS, Multipliers, Regions
from ._settings import SETTINGS, Setting


def add_multiplier_options(parser: argparse.ArgumentParser) -> None:
    """``--self-structural`` … ``--cross-temporal``, and ``--region up.self_temporal=0.5`` (repeatable)."""
    for field in FIELDS:
        parser.add_argument(
            "--" + field.replace("_", "-"),
            type=float,
            default=MULTIPLIER_DEFAULT,
            metavar="X",
            help=f"{field} multiplier, {MULTIPLIER_MIN}-{MULTIPLIER_MAX} (default {MULTIPLIER_DEFAULT})",
        )
    parser.add_argument("--region", action="append", default=[], metavar="REGION.FIELD=X",
                        help=f"a per-region factor on top of the multiplier, region one of {', '.join(REGIONS)}, "
                             "e.g. up.self_temporal=0.5 (repeatable)")


def multipliers_from_args(args: argparse.Namespace) -> Multipliers:
    factors = {}
    for entry in getattr(args, "region", []):
        name, sep, value = entry.partition("=")
        if not sep:
            raise ValueError(f"--region {entry!r} must look like up.self_temporal=0.5")
        try:
            factors[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--region {entry!r}: the factor must be a number") from None
    return Multipliers(**{field: getattr(args, field) for field in FIELDS}, regions=Regions.from_flat(factors))


def add_setting_options(parser: argparse.ArgumentParser, table: Sequence[Setting] = SETTINGS) -> None:
    """One flag per render setting (``--frames``, ``--noise-aug`` …); unset flags stay None."""
    for setting in table:
        parser.add_argument(
            setting.cli_flag,
            dest=setting.name,
            type=setting.kind,
            metavar="N" if setting.kind is int else "X",
            help=f"{setting.help} ({setting.kind(setting.low)}-{setting.kind(setting.high)})",
        )


def settings_from_args(args: argparse.Namespace, table: Sequence[Setting] = SETTINGS) -> dict[str, int | float]:
    """The settings given on the command line, by name (unvalidated: the settings class checks them)."""
    return {s.name: getattr(args, s.name) for s in table if getattr(args, s.name, None) is not None}
