"""``python -m svd_attention_lab.checkpoints``: bake multipliers into a checkpoint, inspect what they would touch, or
convert between a diffusers folder and a single-file checkpoint."""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict

from svd_attention_lab.controls import FIELDS, add_multiplier_options, multipliers_from_args

from patcher import PatchError, family_warnings

from ._bake import bake, inspect_checkpoint
from ._convert import convert
from ._safetensors import read_header


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m svd_attention_lab.checkpoints", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    bake_cmd = commands.add_parser("bake",
                                   help="write a copy of a .safetensors checkpoint with the multipliers baked in")
    bake_cmd.add_argument("input", help="SVD UNet or full single-file checkpoint (.safetensors)")
    bake_cmd.add_argument("output", help="where to write the patched copy (.safetensors)")
    add_multiplier_options(bake_cmd)
    bake_cmd.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")

    inspect_cmd = commands.add_parser("inspect", help="list the tensors each multiplier would scale")
    inspect_cmd.add_argument("file", help="a .safetensors checkpoint")
    inspect_cmd.add_argument("--json", action="store_true", help="print JSON instead of text")

    convert_cmd = commands.add_parser(
        "convert", help="diffusers SVD folder -> single-file checkpoint (ComfyUI, SGM names), or single file -> folder")
    convert_cmd.add_argument("input",
                             help="a diffusers StableVideoDiffusionPipeline folder, or a .safetensors checkpoint")
    convert_cmd.add_argument("output", help="OUT.safetensors for a folder; OUT_FOLDER for a single file")
    convert_cmd.add_argument("--frames", type=int, choices=(14, 25), help="file -> folder: the frames the UNet was "
                             "trained for (default: the file's metadata, else 25 when its name says svd_xt, else 14)")
    convert_cmd.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    return parser


def _convert(args: argparse.Namespace) -> int:
    report = convert(args.input, args.output, force=args.force, frames=args.frames)
    print(f"wrote {args.output} ({report.direction}): {report.tensors} tensors, "
          f"{report.bytes_written / 2**20:,.1f} MiB")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _warn_about_family(path: str) -> None:
    for warning in family_warnings([t.name for t in read_header(path).tensors]):
        print(f"warning: {warning}", file=sys.stderr)


def _inspect(path: str, as_json: bool) -> int:
    found = inspect_checkpoint(path)
    _warn_about_family(path)
    groups: dict[str, list] = defaultdict(list)
    for info, field, region in found:
        groups[field].append({"name": info.name, "region": region, "dtype": info.dtype, "shape": list(info.shape)})
    if as_json:
        print(json.dumps({field: groups[field] for field in FIELDS}, indent=2))
    else:
        for field in FIELDS:
            entries = groups[field]
            params = sum(_numel(e["shape"]) for e in entries)
            print(f"{field}: {len(entries)} tensors, {params:,} parameters")
            for e in entries:
                print(f"  [{e['region']:>4}] {e['name']}  {e['dtype']} {tuple(e['shape'])}")
    if not found:
        print(f"error: {path} has no attention output projections to scale", file=sys.stderr)
        return 1
    return 0


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "inspect":
            return _inspect(args.file, args.json)
        if args.command == "convert":
            return _convert(args)
        _warn_about_family(args.input)
        report = bake(args.input, args.output, multipliers_from_args(args), force=args.force)
    except (PatchError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{field} {report.patched.get(field, 0)}" for field in FIELDS)
    print(f"wrote {args.output}: {report.tensors} tensors, scaled {sum(report.patched.values())} ({counts})")
    return 0
