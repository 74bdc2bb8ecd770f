"""ComfyUI interop: read the node's values from workflows, images and videos; write whole workflows.

ComfyUI has two JSON shapes: the UI workflow (``{"nodes": [{"type": ..., "widgets_values": [...]}]}``)
and the API prompt (``{"12": {"class_type": ..., "inputs": {...}}}``). Saved PNGs carry them as
``workflow`` and ``prompt`` text chunks; saved WebPs as EXIF strings ``"workflow:{...}"`` / ``"prompt:{...}"``;
videos saved by ``SaveVideo`` (MP4) as metadata tags ``workflow`` and ``prompt``.

The project's node's setting is read by the node's own reader (``comfyui_svd_attention_lab.setting``),
so the app and ComfyUI take the same setting from the same workflow.

Reading is a schema: each field the import uses has its type checked before it is used, every other field
is left alone, and every refusal is a ``PresetError`` that names the node and the field.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from comfyui_svd_attention_lab import DISPLAY_NAME, NODE_ID
from comfyui_svd_attention_lab import setting as reader
from svd_attention_lab.controls import FIELDS, REGIONS, Multipliers

from ._errors import PresetError
from ._images import image_format, image_texts
from ._json import read_json, shown, type_name
from ._schema import SETTINGS, Preset, check_setting, multipliers_of

NODE_TYPE = "UNetTemporalAttentionMultiply"
NODE_TYPES = (NODE_TYPE, NODE_TYPE + "_V3")  # some ComfyUI versions save the node under its V3 name
NODE_TITLE = "UNet Temporal Attention Multiply"
# The project's own node (comfyui_svd_attention_lab/): the whole setting, schedule and regions included.
LAB_NODE_TYPE, LAB_NODE_TITLE = NODE_ID, DISPLAY_NAME
INSTALL_HINT = ("This setting has a schedule or per-region factors, which the stock UNetTemporalAttentionMultiply "
                "cannot hold, so it uses the SVD Attention Lab node: copy the folder comfyui_svd_attention_lab from "
                "the SVD Temporal Attention Lab's repository into ComfyUI/custom_nodes/ and restart ComfyUI.")
CHECKPOINT_PLACEHOLDER = "PICK-YOUR-SVD-CHECKPOINT.safetensors"
IMAGE_PLACEHOLDER = "PICK-YOUR-START-IMAGE.png"
PICK_CHECKPOINT_TITLE = "Load SVD checkpoint: PICK YOUR FILE"
PICK_IMAGE_TITLE = "Load image: PICK YOUR START IMAGE"
PICK_CHECKPOINT = (f"The app was not rendering from a single-file checkpoint, so the loader names "
                   f"{CHECKPOINT_PLACEHOLDER}: pick your SVD or SVD-XT .safetensors file there (from "
                   "ComfyUI/models/checkpoints/; a diffusers folder becomes one with "
                   "python -m svd_attention_lab.checkpoints convert FOLDER OUT.safetensors).")
PICK_IMAGE = f"Load image names {IMAGE_PLACEHOLDER}: pick the start image there (upload it to ComfyUI/input/)."
CHECKPOINT_ENDINGS = (".safetensors", ".ckpt")  # what ImageOnlyCheckpointLoader lists
IMAGE_ENDINGS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
SAMPLER, SCHEDULER = "euler", "karras"  # the sampler the app's renderer matches (see docs/comfyui.md)
VIDEO_PREFIX = "video/svd-attention-lab"
SVD_SIZE = (1024, 576)  # what width / height 0 mean
WHOLE_RUN = {"start": 0.0, "end": 1.0}
COMFY_SEED_MAX = 2**64 - 1  # KSampler's seed input; ComfyUI refuses larger ones
NOISE_SEED_BITS = 32  # torch's CPU generator (ComfyUI's noise) keeps the seed's low 32 bits
lab_input = reader.region_input  # the project's node's input for one region factor: up_self_temporal
LAB_INPUTS = reader.NODE_INPUTS
OUR_TYPES = (*NODE_TYPES, LAB_NODE_TYPE)
MAX_WORKFLOW_BYTES = 16 * 1024 * 1024  # whole workflows are far larger than presets
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MAX_NODES = 10_000  # real workflows have tens to a few hundred
SHOWN_IDS = 5  # node ids a message lists

DEFAULTS = {s.name: s.default for s in SETTINGS}
# SVD's generation settings in a workflow: node type -> (widget index or input name, our setting).
SETTING_WIDGETS = {
    "SVD_img2vid_Conditioning": [(0, "width", "width"), (1, "height", "height"), (2, "video_frames", "frames"),
                                 (3, "motion_bucket_id", "motion_bucket_id"), (4, "fps", "fps"),
                                 (5, "augmentation_level", "noise_aug_strength")],
    "KSampler": [(0, "seed", "seed"), (2, "steps", "steps"), (3, "cfg", "max_guidance")],
    "VideoLinearCFGGuidance": [(0, "min_cfg", "min_guidance")],
}
MODEL_LOADERS = ("ImageOnlyCheckpointLoader", "CheckpointLoaderSimple", "UNETLoader")
SVD_FILE_HINTS = ("svd", "stable-video", "stable_video", "img2vid")


@dataclasses.dataclass(frozen=True)
class ComfyImport:
    multipliers: Multipliers
    node_id: str  # the node whose values were taken
    all_node_ids: list[str]  # every UNetTemporalAttentionMultiply node found, in order
    source: str  # "workflow" or "prompt"
    settings: dict = dataclasses.field(default_factory=dict)  # SVD generation settings the workflow sets
    models: list[str] = dataclasses.field(default_factory=list)  # model files its loaders name
    warnings: list[str] = dataclasses.field(default_factory=list)
    node_type: str = NODE_TYPE

    @property
    def message(self) -> str:
        text = f"took the values of {self.node_type} node {self.node_id} from the {self.source}" if self.node_id \
            else f"read the {self.source}"
        ids = self.all_node_ids
        if len(ids) > 1:
            more = f" and {len(ids) - SHOWN_IDS:,} more" if len(ids) > SHOWN_IDS else ""
            text += f"; the workflow has {len(ids):,} such nodes: {', '.join(ids[:SHOWN_IDS])}{more}"
        if self.settings:
            text += "; settings: " + ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return ". ".join([text, *self.warnings])

    def to_preset(self, name: str = "Imported from ComfyUI") -> Preset:
        return Preset(name=name, multipliers=self.multipliers, description=self.message[:1000], settings=self.settings)


# --- reading: the schema ------------------------------------------------------------------------------


def _expect(value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise PresetError(f"{path} must be {what}, got {type_name(value)}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _workflow_facts(nodes: list[tuple[str, list | dict]]) -> tuple[dict, list[str], list[str]]:
    """SVD settings, model files and warnings from (node type, widget values or inputs) pairs, in workflow order."""
    settings: dict[str, int | float] = {}
    models: list[str] = []
    refused: dict[str, str] = {}  # one warning per setting, however many nodes set it
    notes: list[str] = []
    for kind, values in nodes:
        for index, name, ours in SETTING_WIDGETS.get(kind, []):
            value = values.get(name) if isinstance(values, dict) else values[index] if index < len(values) else None
            if value is None or ours in settings or ours in refused:
                continue
            if not _is_number(value):
                refused[ours] = f"{kind} {name} not imported: settings.{ours} must be a number, got {type_name(value)}"
                continue
            if ours == "seed":
                value, note = _comfyui_seed(kind, value)
                if note:
                    notes.append(note)
            try:
                settings[ours] = check_setting(ours, value)
            except PresetError as exc:
                refused[ours] = f"{kind} {name} not imported: {exc}"
        if kind in MODEL_LOADERS and values:
            file = (values.get("ckpt_name") or values.get("unet_name")) if isinstance(values, dict) else values[0]
            if isinstance(file, str):
                models.append(shown(file.replace("\\", "/").rsplit("/", 1)[-1], 100))
    warnings = [*notes, *refused.values()]
    if settings.get("min_guidance", 0) > settings.get("max_guidance", 1e9):
        warnings.append("min_cfg above cfg; guidance not imported")
        settings.pop("min_guidance")
        settings.pop("max_guidance")
    models = list(dict.fromkeys(models))
    svd = [m for m in models if any(hint in m.lower() for hint in SVD_FILE_HINTS)]
    if svd or not models:
        return settings, models, warnings
    warnings = [f"its generation settings are not imported: its model {models[0]} is not SVD"] if settings else []
    for name in models[:3]:
        if "wan" in name.lower():
            warnings.append(f"{name} is Wan 2.x, not SVD: its attention keys are self_attn.o / cross_attn.o, so "
                            "in ComfyUI this node matches no tensor there and changes nothing")
        else:
            warnings.append(f"{name} does not look like SVD; the node acts only on SVD's temporal blocks (time_stack)")
    return {}, models, warnings


def _comfyui_seed(kind: str, value: int | float) -> tuple[int | float, str]:
    """A workflow's seed as ComfyUI uses it: any whole number from 0 to 2**64 - 1 (what KSampler takes)
    seeds torch's CPU generator, which keeps its low 32 bits, so the seed mod 2**32 draws the same noise."""
    if isinstance(value, float) and (not value.is_integer() or not 0 <= value <= COMFY_SEED_MAX):
        return value, ""
    reduced = int(value) % 2**NOISE_SEED_BITS
    if value < 0 or value > COMFY_SEED_MAX or reduced == value:
        return value, ""
    return reduced, (f"{kind} seed {int(value)} is read as {reduced}: ComfyUI's noise generator (torch's, on the "
                     f"CPU) keeps a seed's low 32 bits, so {reduced} draws the same noise")


def _kind(node: dict, path: str, key: str) -> str | None:
    """A node's type (``type`` in a workflow, ``class_type`` in a prompt): text, or absent."""
    kind = node.get(key)
    return None if kind is None else _expect(kind, str, f"{path}.{key}", "a string")


def _values(node: dict, path: str, key: str, kinds: tuple[type, ...], what: str) -> list | dict:
    """A node's ``widgets_values`` or ``inputs``: absent is empty."""
    values = node.get(key)
    return [] if values is None else _expect(values, kinds, f"{path}.{key}", what)


def _label(node: dict, path: str) -> str:
    """A workflow node as messages name it: its id, else its place."""
    node_id = node.get("id")
    return shown(node_id) if isinstance(node_id, (int, float, str)) and not isinstance(node_id, bool) else path


def _from_ui(workflow: dict) -> ComfyImport | None:
    nodes = _expect(workflow["nodes"], list, "nodes", "a list of objects")
    if len(nodes) > MAX_NODES:
        raise PresetError(f"the workflow has {len(nodes):,} nodes; at most {MAX_NODES:,} are read")
    found, read = [], []
    for i, node in enumerate(nodes):
        path = f"nodes[{i}]"
        kind = _kind(_expect(node, dict, path, "an object"), path, "type")
        if kind in OUR_TYPES:
            found.append((path, node))
        elif kind in SETTING_WIDGETS or kind in MODEL_LOADERS:
            read.append((kind, _values(node, path, "widgets_values", (list, dict), "a list or an object")))
    facts = _workflow_facts(read)
    if not found:
        return _settings_only(facts, "workflow")
    ids = [_label(node, path) for path, node in found]
    path, node = found[0]
    names = LAB_INPUTS if node["type"] == LAB_NODE_TYPE else FIELDS
    inputs = _values(node, path, "inputs", (list, dict), "a list or an object")
    for j, entry in enumerate(inputs.values() if isinstance(inputs, dict) else inputs):
        entry = _expect(entry, dict, f"{path}.inputs[{j}]", "an object")
        widget = entry.get("widget")
        if widget is None:
            continue
        widget = _expect(widget, dict, f"{path}.inputs[{j}].widget", "an object")
        if widget.get("name") in names and entry.get("link") is not None:
            link = entry["link"]
            via = f" (link {link})" if _is_number(link) else ""
            raise PresetError(f"{widget['name']} of node {ids[0]} comes from another node{via}; set it as a value")
    values = _values(node, path, "widgets_values", (list, dict), "a list or an object")
    if isinstance(values, dict):  # newer front ends may store widgets by name
        values = [values.get(f) for f in names]
    if len(values) < len(FIELDS):
        raise PresetError(f"{path}.widgets_values must list the four multipliers, got {len(values)} values")
    return _imported(dict(zip(names, values)), node["type"], ids, "workflow", facts)


def _from_api(prompt: dict) -> ComfyImport | None:
    if len(prompt) > MAX_NODES:
        raise PresetError(f"the prompt has {len(prompt):,} nodes; at most {MAX_NODES:,} are read")
    found, read = [], []
    for key, node in prompt.items():
        if not isinstance(node, dict):  # not a node: a prompt's entries are nodes, but other JSON can look alike
            continue
        path = shown(key)
        kind = _kind(node, path, "class_type")
        if kind in OUR_TYPES:
            found.append((path, node))
        elif kind in SETTING_WIDGETS or kind in MODEL_LOADERS:
            read.append((kind, _values(node, path, "inputs", dict, "an object")))
    facts = _workflow_facts(read)
    if not found:
        return _settings_only(facts, "prompt")
    ids = [path for path, _ in found]
    node_id, node = found[0]
    inputs = _expect(node.get("inputs"), dict, f"{node_id}.inputs", "an object")
    names = LAB_INPUTS if node["class_type"] == LAB_NODE_TYPE else FIELDS
    for field in names:
        if isinstance(inputs.get(field), list):
            raise PresetError(f"{field} of node {node_id} comes from another node; set it as a value")
    return _imported({f: inputs[f] for f in names if f in inputs}, node["class_type"], ids, "prompt", facts)


def _imported(values: dict[str, Any], kind: str, ids: list[str], source: str, facts: tuple) -> ComfyImport:
    """The setting of the first node found: the stock node's four values, or all of the project's node's."""
    for name, value in values.items():
        if name != "setting" and not _is_number(value):
            raise PresetError(f"node {ids[0]}: {name} must be a number, got {type_name(value)}")
    settings, models, warnings = facts
    if kind != LAB_NODE_TYPE:  # the stock node acts in every step: so does the imported setting
        note = "the stock node acts in every step: schedule 0 to 1"
        return ComfyImport(_multipliers(values, ids[0]), ids[0], ids, source, {**settings, **WHOLE_RUN}, models,
                           [note, *warnings])
    multipliers, schedule, notes = _lab_setting(values, ids[0])
    return ComfyImport(multipliers, ids[0], ids, source, {**settings, **schedule}, models, [*notes, *warnings],
                       LAB_NODE_TYPE)


def _lab_setting(values: dict[str, Any], node_id: str) -> tuple[Multipliers, dict[str, float], list[str]]:
    """The project's node's whole setting, read as the node reads it (the same function): its ``setting``
    text (a preset or share link) where set, else its widgets. Returns the multipliers, the schedule
    and what reading changed."""
    text = values.get("setting") or ""
    if not isinstance(text, str):
        raise PresetError(f"setting of node {node_id} must be text, got {type_name(text)}")
    try:
        setting = reader.Setting.from_node(values)
    except PresetError as exc:
        where = "the setting text of node" if text.strip() else "node"
        raise PresetError(f"{where} {node_id}: {_sentence(exc)}") from None
    return multipliers_of(setting), {"start": setting.start, "end": setting.end}, list(setting.notes)


def _sentence(exc: Exception, limit: int = 200) -> str:
    """Another reader's message inside ours: one line, short (it may quote what it refused)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _settings_only(facts: tuple[dict, list[str], list[str]], source: str) -> ComfyImport | None:
    """An SVD workflow without the node: its settings, the multipliers left at 1."""
    settings, models, warnings = facts
    if not settings:
        return None
    note = f"the workflow has no {NODE_TYPE} node; the multipliers stay at 1.0"
    return ComfyImport(Multipliers(), "", [], source, {**settings, **WHOLE_RUN}, models, [note, *warnings])


def _multipliers(values: dict[str, Any], node_id: str) -> Multipliers:
    try:
        return Multipliers(**values)
    except ValueError as exc:
        raise PresetError(f"node {node_id}: {exc}") from None


# --- reading: the entry points ------------------------------------------------------------------------


def from_workflow(doc: Any) -> ComfyImport:
    """The node's values from a parsed UI workflow or API prompt."""
    _expect(doc, dict, "the workflow", "a JSON object")
    found = _from_ui(doc) if "nodes" in doc else _from_api(doc)
    if found is None:
        raise PresetError(f"no {NODE_TYPE} node in this workflow")
    return found


def from_json(text: str | bytes, what: str = "the workflow", encoding: str = "utf-8-sig") -> ComfyImport:
    return from_workflow(read_json(text, what, MAX_WORKFLOW_BYTES, encoding=encoding,
                                   max_number_chars=reader.MAX_NUMBER_CHARS))


def from_image(data: bytes) -> ComfyImport:
    """The node's values from a PNG (text chunks) or WebP (EXIF) image, or an MP4 video (metadata items),
    saved by ComfyUI; pixels are never decoded."""
    what = "video" if image_format(data) == "an MP4" else "image"
    if len(data) > MAX_IMAGE_BYTES:
        raise PresetError(f"{what} is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    texts = image_texts(data)
    problems = []
    for key in ("workflow", "prompt"):  # the UI workflow first: it keeps the node ids people see
        if key in texts:
            text, encoding = texts.pop(key)
            try:
                return from_json(text, f"the {what}'s {key}", encoding)
            except PresetError as exc:
                problems.append(exc)
    if problems:
        raise problems[0]
    raise PresetError(f"this {what} carries no ComfyUI workflow or prompt (was it saved by ComfyUI with metadata?)")


_TEXT_START = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*")  # a UTF-8 byte order mark, then white space


def from_file_bytes(data: bytes) -> ComfyImport:
    """A workflow JSON, or an image or video that carries one: what the app's import and ``python -m presets``
    read."""
    if not data:
        raise PresetError("the file is empty")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise PresetError("the workflow is UTF-16 text; save it as UTF-8, as ComfyUI does")
    start = _TEXT_START.match(data).end()
    first = data[start:start + 1]
    if image_format(data) is None and (not first or 0x20 <= first[0] < 0x7F and first != b"<"):  # text, not XML
        return from_json(data)
    return from_image(data)


def from_file(path: str | os.PathLike) -> ComfyImport:
    """A workflow (.json) or image (.png, .webp) file, its size checked before it is read."""
    file = Path(path)
    if not file.is_file():
        raise PresetError(f"{file.name}: no such file")
    size = file.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise PresetError(f"the file is {size:,} bytes; at most {MAX_IMAGE_BYTES // 2**20} MB are read")
    return from_file_bytes(file.read_bytes())

def uses_lab_node(multipliers: Multipliers, start: float = 0.0, end: float = 1.0) -> bool:
    """Whether a setting needs the project's node: a schedule or region factors (the stock node has neither)."""
    return (start, end) != (0.0, 1.0) or not multipliers.regions.is_identity


def _node_inputs(multipliers: Multipliers, start: float, end: float) -> tuple[str, dict[str, Any]]:
    """The node type and its widget values, in the node's input order."""
    if not uses_lab_node(multipliers, start, end):
        return NODE_TYPE, multipliers.node_values()
    values: dict[str, Any] = {**multipliers.node_values(), "start_percent": start, "end_percent": end}
    values |= {lab_input(r, f): multipliers.regions.factor(r, f) for r in REGIONS for f in FIELDS}
    return LAB_NODE_TYPE, values | {"setting": ""}


def to_api_node(multipliers: Multipliers, node_id: str = "100", model_from: tuple[str, int] | None = None,
                start: float = 0.0, end: float = 1.0) -> dict:
    """An API-format prompt fragment with the node (the stock one where it holds the whole setting);
    connect ``model`` to your model loader's output."""
    kind, values = _node_inputs(multipliers, start, end)
    inputs: dict[str, Any] = {"model": [model_from[0], model_from[1]]} if model_from is not None else {}
    return {node_id: {"class_type": kind, "inputs": inputs | values, "_meta": _meta(kind)}}


def _meta(kind: str) -> dict[str, str]:
    if kind == LAB_NODE_TYPE:
        return {"title": LAB_NODE_TITLE, "install": INSTALL_HINT}
    return {"title": NODE_TITLE}


# --- writing: the whole SVD image-to-video graph ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _GraphNode:
    """One node of the exported graph, from which both formats are written."""

    id: int
    type: str
    title: str
    widgets: dict[str, Any] = dataclasses.field(default_factory=dict)  # name -> value, in widget order
    links: dict[str, tuple[int, int, str]] = dataclasses.field(default_factory=dict)  # input -> (node, slot, type)
    outputs: tuple[tuple[str, str], ...] = ()  # (name, type)
    shown_after: dict[str, Any] = dataclasses.field(default_factory=dict)  # UI-only widget values after a widget
    meta: dict[str, str] = dataclasses.field(default_factory=dict)  # more of the API prompt's _meta
    column: int = 0  # where the UI workflow places it: its stage, left to right

    def size(self) -> tuple[int, int]:
        """Width and height in ComfyUI's page, large enough for its title, its slots and its widgets."""
        rows = max(len(self.links), len(self.outputs))
        text_boxes = len(_TEXT_WIDGETS & self.widgets.keys())
        height = _SLOT_HEIGHT * rows + _WIDGET_HEIGHT * len(self.widgets) + _TEXT_HEIGHT * text_boxes
        values = [len(name) + len(v) for name, v in self.widgets.items() if isinstance(v, str) and name not in
                  _TEXT_WIDGETS]  # a widget shows its name and its value on one line
        width = max(_NODE_WIDTH, _TITLE_CHAR * len(self.title) + 40, _VALUE_CHAR * max(values, default=0) + 80)
        return width, height + _PREVIEW_HEIGHT.get(self.type, 0) + 16


# The UI workflow's geometry, in the page's units (LiteGraph draws the title bar above ``pos``).
_NODE_WIDTH, _TITLE_HEIGHT, _SLOT_HEIGHT, _WIDGET_HEIGHT, _TEXT_HEIGHT = 320, 30, 22, 26, 60
_TITLE_CHAR = 8  # a title's width per character, upper case included
_VALUE_CHAR = 7  # a widget's text width per character
_PREVIEW_HEIGHT = {"LoadImage": 260, "SaveVideo": 300}  # the image or video these nodes show
_NOTE_SIZE = (320, 260)
_TEXT_WIDGETS = {"setting"}  # multiline text boxes
_GAP, _MARGIN = 40, 40


def _graph(multipliers: Multipliers, settings: dict, checkpoint: str | None, image: str | None) -> list[_GraphNode]:
    s = {**DEFAULTS, **settings}
    kind, values = _node_inputs(multipliers, s["start"], s["end"])
    ckpt = _checkpoint(checkpoint) or CHECKPOINT_PLACEHOLDER
    picture = _image(image) or IMAGE_PLACEHOLDER
    loader_title = "Load SVD checkpoint" if _checkpoint(checkpoint) else PICK_CHECKPOINT_TITLE
    return [
        _GraphNode(1, "ImageOnlyCheckpointLoader", loader_title, {"ckpt_name": ckpt},
                   outputs=(("MODEL", "MODEL"), ("CLIP_VISION", "CLIP_VISION"), ("VAE", "VAE")), column=0),
        _GraphNode(2, kind, NODE_TITLE if kind == NODE_TYPE else LAB_NODE_TITLE, values,
                   {"model": (1, 0, "MODEL")}, (("MODEL", "MODEL"),), meta=_meta(kind), column=1),
        _GraphNode(3, "VideoLinearCFGGuidance", "Video linear CFG guidance", {"min_cfg": s["min_guidance"]},
                   {"model": (2, 0, "MODEL")}, (("MODEL", "MODEL"),), column=2),
        _GraphNode(4, "LoadImage", "Load image" if _image(image) else PICK_IMAGE_TITLE, {"image": picture},
                   outputs=(("IMAGE", "IMAGE"), ("MASK", "MASK")), shown_after={"image": "image"}, column=0),
        _GraphNode(5, "SVD_img2vid_Conditioning", "SVD image-to-video conditioning", {
            "width": s["width"] or SVD_SIZE[0], "height": s["height"] or SVD_SIZE[1], "video_frames": s["frames"],
            "motion_bucket_id": s["motion_bucket_id"], "fps": s["fps"], "augmentation_level": s["noise_aug_strength"]},
            {"clip_vision": (1, 1, "CLIP_VISION"), "init_image": (4, 0, "IMAGE"), "vae": (1, 2, "VAE")},
            (("positive", "CONDITIONING"), ("negative", "CONDITIONING"), ("latent", "LATENT")), column=2),
        _GraphNode(6, "KSampler", "KSampler", {
            "seed": s["seed"], "steps": s["steps"], "cfg": s["max_guidance"], "sampler_name": SAMPLER,
            "scheduler": SCHEDULER, "denoise": 1.0},
            {"model": (3, 0, "MODEL"), "positive": (5, 0, "CONDITIONING"), "negative": (5, 1, "CONDITIONING"),
             "latent_image": (5, 2, "LATENT")}, (("LATENT", "LATENT"),), shown_after={"seed": "fixed"}, column=2),
        _GraphNode(7, "VAEDecode", "VAE decode", links={"samples": (6, 0, "LATENT"), "vae": (1, 2, "VAE")},
                   outputs=(("IMAGE", "IMAGE"),), column=3),
        _GraphNode(8, "CreateVideo", "Create video", {"fps": float(s["fps"])}, {"images": (7, 0, "IMAGE")},
                   (("VIDEO", "VIDEO"),), column=3),
        _GraphNode(9, "SaveVideo", "Save video", {"filename_prefix": VIDEO_PREFIX, "format": "auto", "codec": "auto"},
                   {"video": (8, 0, "VIDEO")}, column=3),
    ]


def _file_name(name: str | None, endings: tuple[str, ...]) -> str | None:
    """A file's name as a ComfyUI loader lists it (the last part of a path), where it is a file of that
    kind; None for anything else (no file, a Hub id, a folder)."""
    if not name:
        return None
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return base if any(base.lower().endswith(e) and len(base) > len(e) for e in endings) else None


def _checkpoint(name: str | None) -> str | None:
    return _file_name(name, CHECKPOINT_ENDINGS)


def _image(name: str | None) -> str | None:
    return _file_name(name, IMAGE_ENDINGS)


def export_notes(multipliers: Multipliers, start: float = 0.0, end: float = 1.0, checkpoint: str | None = None,
                 image: str | None = None) -> list[str]:
    """What a ComfyUI user must know about an export: the project's node where the setting needs it, and
    which files to pick where the app could not name them."""
    notes = [INSTALL_HINT] if uses_lab_node(multipliers, start, end) else []
    if not _checkpoint(checkpoint):
        notes.append(PICK_CHECKPOINT)
    if not _image(image):
        notes.append(PICK_IMAGE)
    return notes


def _layout(graph: list[_GraphNode], note: tuple[int, int] | None = None) -> dict[int, tuple[int, int]]:
    """Each node's place (the note's under id 0, below the first column): columns left to right, as wide
    as their widest node, nodes stacked in each. Four columns keep the whole graph within what ComfyUI's
    page, fitting a dropped workflow to a 1400-pixel window, still draws with its text."""
    places, x = {}, _MARGIN
    for column in sorted({n.column for n in graph}):
        y = _MARGIN + _TITLE_HEIGHT
        members = [(n.id, n.size()) for n in graph if n.column == column]
        if column == 0 and note:
            members.append((0, note))
        for key, (_, height) in members:
            places[key] = (x, y)
            y += height + _TITLE_HEIGHT + _GAP
        x += max(width for _, (width, _) in members) + _GAP
    return places


def to_api_prompt(multipliers: Multipliers, settings: dict, checkpoint: str | None = None,
                  image: str | None = None) -> dict:
    """A whole SVD image-to-video prompt in API format (loader, node, guidance, conditioning, sampler,
    decode, video) with the app's render settings (``width`` / ``height`` 0 mean SVD's 1024 x 576).
    ``checkpoint`` and ``image`` are the files the app has loaded (a path or a name; the model's source
    as it is, whatever it is: only a single file is named); where one is not a file ComfyUI can load, a
    clearly marked placeholder stands in its place and the loader's title says what to pick. The install hint
    of the project's node is in its ``_meta``."""
    prompt = {}
    for node in _graph(multipliers, settings, checkpoint, image):
        inputs = {name: [str(source), slot] for name, (source, slot, _) in node.links.items()}
        prompt[str(node.id)] = {"class_type": node.type, "inputs": inputs | node.widgets,
                                "_meta": {"title": node.title, **node.meta}}
    return prompt


def to_ui_workflow(multipliers: Multipliers, settings: dict | None = None, checkpoint: str | None = None,
                   image: str | None = None, *, start: float = 0.0, end: float = 1.0) -> dict:
    """The same graph as a UI workflow, to load into ComfyUI's page (drop the file or paste it): the
    nodes wired together, each widget set, and a Note with what to know (the node to install, the files
    to pick). The notes travel in ``extra`` too. ``start`` / ``end``: the schedule, where ``settings``
    does not hold one."""
    settings = {"start": start, "end": end, **(settings or {})}
    graph = _graph(multipliers, settings, checkpoint, image)
    links: list[list] = []
    targets: dict[tuple[int, int], list[int]] = {}
    for node in graph:
        for slot, (name, (source, out, kind)) in enumerate(node.links.items()):
            links.append([len(links) + 1, source, out, node.id, slot, kind])
            targets.setdefault((source, out), []).append(len(links))
    nodes = []
    link_ids = iter(range(1, len(links) + 1))
    start, end = settings.get("start", 0.0), settings.get("end", 1.0)
    notes = export_notes(multipliers, start, end, checkpoint, image)
    places = _layout(graph, _NOTE_SIZE if notes else None)
    for order, node in enumerate(graph):
        widgets = []
        for name, value in node.widgets.items():
            widgets.append(value)
            if name in node.shown_after:
                widgets.append(node.shown_after[name])
        nodes.append({
            "id": node.id, "type": node.type, "pos": list(places[node.id]), "size": list(node.size()),
            "flags": {}, "order": order, "mode": 0,
            "inputs": [{"name": name, "type": kind, "link": next(link_ids)}
                       for name, (_, _, kind) in node.links.items()],
            "outputs": [{"name": name, "type": kind, "links": targets.get((node.id, slot), []), "slot_index": slot}
                        for slot, (name, kind) in enumerate(node.outputs)],
            "title": node.title, "properties": {"Node name for S&R": node.type}, "widgets_values": widgets,
        })
    if notes:
        nodes.append({"id": len(graph) + 1, "type": "Note", "pos": list(places[0]), "size": list(_NOTE_SIZE),
                      "flags": {}, "order": len(graph), "mode": 0, "inputs": [], "outputs": [], "title": "Read me",
                      "properties": {"text": ""}, "widgets_values": ["\n\n".join(notes)]})
    return {
        "last_node_id": nodes[-1]["id"],
        "last_link_id": len(links),
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"svd_attention_lab": {"notes": notes}},
        "version": 0.4,
    }
