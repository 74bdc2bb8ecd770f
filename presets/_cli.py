"""``python -m presets``: list, show and validate presets; convert from ComfyUI; make share links."""

from __future__ import annotations

import argparse
import sys

from svd_attention_lab.controls import FIELDS

from ._builtin import builtin_presets, get_builtin
from ._comfyui import from_file
from ._errors import PresetError
from ._schema import Preset
from ._share import to_query, to_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m presets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the built-in presets")
    show = commands.add_parser("show", help="print a built-in preset as JSON")
    show.add_argument("name")
    validate = commands.add_parser("validate", help="check a preset file")
    validate.add_argument("file")
    comfy = commands.add_parser(
        "from-comfyui", help="preset JSON from a ComfyUI workflow (JSON, or the PNG, WebP or MP4 ComfyUI saved)")
    comfy.add_argument("file")
    comfy.add_argument("--name", default="Imported from ComfyUI")
    url = commands.add_parser("to-url", help="share link (query string) for a preset file")
    url.add_argument("file")
    url.add_argument("--base", help="page address to put in front, e.g. http://127.0.0.1:7860/")
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
            for preset in builtin_presets().values():
                values = ", ".join(f"{f}={getattr(preset.multipliers, f):g}" for f in FIELDS)
                print(f"{preset.name}\n    {values}\n    {preset.description}")
        elif args.command == "show":
            print(get_builtin(args.name).to_json(), end="")
        elif args.command == "validate":
            preset = Preset.from_file(args.file)
            print(f"ok: {preset.name!r} ({preset.multipliers.label()})")
            for note in preset.notes:  # what reading an older version changed
                print(f"note: {note}", file=sys.stderr)
        elif args.command == "from-comfyui":
            found = from_file(args.file)
            print(found.message, file=sys.stderr)
            print(found.to_preset(args.name).to_json(), end="")
        elif args.command == "to-url":
            preset = Preset.from_file(args.file)
            print(to_url(preset, args.base) if args.base else "?" + to_query(preset))
    except (PresetError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
