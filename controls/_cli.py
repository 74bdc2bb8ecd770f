"""Command-line flags for the multipliers and the render settings, shared by every ``python -m`` tool."""

from __future__ import annotations

import argparse
from typing import Sequence

from ._multipliers import FIELDS, MULTIPLIER_DEFAULT, MULTIPLIER_MAX, MULTIPLIER_MIN, Multipliers
from ._settings import SETTINGS, Setting


def add_multiplier_options(parser: argparse.ArgumentParser) -> None:
    """``--self-structural`` … ``--cross-temporal``."""
    for field in FIELDS:
        parser.add_argument(
            "--" + field.replace("_", "-"),
            type=float,
            default=MULTIPLIER_DEFAULT,
            metavar="X",
            help=f"{field} multiplier, {MULTIPLIER_MIN}-{MULTIPLIER_MAX} (default {MULTIPLIER_DEFAULT})",
        )


def multipliers_from_args(args: argparse.Namespace) -> Multipliers:
    return Multipliers(**{field: getattr(args, field) for field in FIELDS})


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
