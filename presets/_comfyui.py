"""ComfyUI interop: read the node's values from workflows and images, write pasteable snippets.

ComfyUI has two JSON shapes: the UI workflow (``{"nodes": [{"type": ..., "widgets_values": [...]}]}``)
and the API prompt (``{"12": {"class_type": ..., "inputs": {...}}}``). Saved PNGs carry them as
``workflow`` and ``prompt`` text chunks; saved WebPs as EXIF strings ``"workflow:{...}"`` / ``"prompt:{...}"``.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from controls import FIELDS, Multipliers

from ._errors import PresetError
from ._json import read_json, type_name
from ._schema import Preset, check_setting

NODE_TYPE = "UNetTemporalAttentionMultiply"
NODE_TYPES = (NODE_TYPE, NODE_TYPE + "_V3")  # some ComfyUI versions save the node under its V3 name
NODE_TITLE = "UNet Temporal Attention Multiply"
MAX_WORKFLOW_BYTES = 16 * 1024 * 1024  # whole workflows are far larger than presets
MAX_IMAGE_BYTES = 50 * 1024 * 1024

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

    @property
    def message(self) -> str:
        text = f"took the values of {NODE_TYPE} node {self.node_id} from the {self.source}" if self.node_id else \
            f"read the {self.source}"
        if len(self.all_node_ids) > 1:
            text += f"; the workflow has {len(self.all_node_ids)} such nodes: {', '.join(self.all_node_ids)}"
        if self.settings:
            text += "; settings: " + ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return ". ".join([text, *self.warnings])

    def to_preset(self, name: str = "Imported from ComfyUI") -> Preset:
        return Preset(name=name, multipliers=self.multipliers, description=self.message[:1000], settings=self.settings)


def _workflow_facts(nodes: list[tuple[str, dict, Any]]) -> tuple[dict, list[str], list[str]]:
    """SVD settings, model files and warnings from (node type, node, values) triples, in workflow order."""
    settings: dict[str, int | float] = {}
    models: list[str] = []
    refused: list[str] = []
    for kind, _, values in nodes:
        for index, name, ours in SETTING_WIDGETS.get(kind, []):
            value = values.get(name) if isinstance(values, dict) else values[index] if index < len(values) else None
            if value is None or ours in settings:
                continue
            try:
                settings[ours] = check_setting(ours, value)
            except PresetError as exc:
                refused.append(f"{kind} {name} not imported: {exc}")
        if kind in MODEL_LOADERS and values:
            file = (values.get("ckpt_name") or values.get("unet_name")) if isinstance(values, dict) else values[0]
            if isinstance(file, str):
                models.append(file.replace("\\", "/").rsplit("/", 1)[-1])
    if settings.get("min_guidance", 0) > settings.get("max_guidance", 1e9):
        refused.append("min_cfg above cfg; guidance not imported")
        settings.pop("min_guidance")
        settings.pop("max_guidance")
    svd = [m for m in models if any(hint in m.lower() for hint in SVD_FILE_HINTS)]
    if svd or not models:
        return settings, models, refused
    warnings = [f"its generation settings are not imported: its model {models[0]} is not SVD"] if settings else []
    for name in models:
        if "wan" in name.lower():
            warnings.append(f"{name} is Wan 2.x, not SVD: its attention keys are self_attn.o / cross_attn.o, so "
                            "in ComfyUI this node matches no tensor there and changes nothing")
        else:
            warnings.append(f"{name} does not look like SVD; the node acts only on SVD's temporal blocks (time_stack)")
    return {}, models, warnings


MAX_NODES = 10_000  # real workflows have tens to a few hundred


def _expect(value: Any, kind: type, path: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise PresetError(f"{path} must be {what}, got {type_name(value)}")
    return value


def _from_ui(workflow: dict) -> ComfyImport | None:
    nodes = _expect(workflow["nodes"], list, "nodes", "a list of objects")
    if len(nodes) > MAX_NODES:
        raise PresetError(f"the workflow has {len(nodes):,} nodes; at most {MAX_NODES:,} are read")
    found = []
    for i, node in enumerate(nodes):
        node = _expect(node, dict, f"nodes[{i}]", "an object")
        if node.get("type") in NODE_TYPES:
            found.append((i, node))
    facts = _workflow_facts([(n.get("type"), n, n.get("widgets_values") or []) for n in nodes])
    if not found:
        return _settings_only(facts, "workflow")
    ids = [str(node.get("id")) for _, node in found]
    index, node = found[0]
    path = f"nodes[{index}]"
    inputs = node.get("inputs") or []
    entries = inputs.values() if isinstance(inputs, dict) else _expect(inputs, list, f"{path}.inputs",
                                                                       "a list or an object")
    for j, entry in enumerate(entries):
        entry = _expect(entry, dict, f"{path}.inputs[{j}]", "an object")
        widget = _expect(entry.get("widget") or {}, dict, f"{path}.inputs[{j}].widget", "an object")
        if widget.get("name") in FIELDS and entry.get("link") is not None:
            raise PresetError(f"{widget['name']} of node {ids[0]} comes from another node (link {entry['link']!r}); "
                              "set it as a value")
    values = node.get("widgets_values")
    if isinstance(values, dict):  # newer front ends may store widgets by name
        values = [values.get(f) for f in FIELDS]
    if not isinstance(values, list) or len(values) < len(FIELDS):
        got = f"{len(values)} values" if isinstance(values, list) else type_name(values)
        raise PresetError(f"{path}.widgets_values must list the four multipliers, got {got}")
    return ComfyImport(_multipliers(dict(zip(FIELDS, values)), ids[0]), ids[0], ids, "workflow", *facts)


def _from_api(prompt: dict) -> ComfyImport | None:
    if len(prompt) > MAX_NODES:
        raise PresetError(f"the prompt has {len(prompt):,} nodes; at most {MAX_NODES:,} are read")
    nodes = [(str(k), v) for k, v in prompt.items() if isinstance(v, dict) and v.get("class_type") in NODE_TYPES]
    others = [(v.get("class_type"), v, v.get("inputs") if isinstance(v.get("inputs"), dict) else {})
              for v in prompt.values() if isinstance(v, dict)]
    facts = _workflow_facts(others)
    if not nodes:
        return _settings_only(facts, "prompt")
    ids = [k for k, _ in nodes]
    node_id, node = nodes[0]
    inputs = _expect(node.get("inputs"), dict, f"{node_id}.inputs", "an object")
    for field in FIELDS:
        if isinstance(inputs.get(field), list):
            raise PresetError(f"{field} of node {node_id} comes from another node ({inputs[field]!r}); "
                              "set it as a value")
    values = {f: inputs[f] for f in FIELDS if f in inputs}
    return ComfyImport(_multipliers(values, node_id), node_id, ids, "prompt", *facts)


def _settings_only(facts: tuple[dict, list[str], list[str]], source: str) -> ComfyImport | None:
    """An SVD workflow without the node: its settings, the multipliers left at 1."""
    settings, models, warnings = facts
    if not settings:
        return None
    note = f"the workflow has no {NODE_TYPE} node; the multipliers stay at 1.0"
    return ComfyImport(Multipliers(), "", [], source, settings, models, [note, *warnings])


def _multipliers(values: dict[str, Any], node_id: str) -> Multipliers:
    try:
        return Multipliers(**values)
    except ValueError as exc:
        raise PresetError(f"node {node_id}: {exc}") from None


def from_workflow(doc: Any) -> ComfyImport:
    """The node's values from a parsed UI workflow or API prompt."""
    _expect(doc, dict, "the workflow", "a JSON object")
    found = _from_ui(doc) if "nodes" in doc else _from_api(doc)
    if found is None:
        raise PresetError(f"no {NODE_TYPE} node in this workflow")
    return found


def from_json(text: str | bytes) -> ComfyImport:
    return from_workflow(read_json(text, "the workflow", MAX_WORKFLOW_BYTES))


def from_image(data: bytes) -> ComfyImport:
    """The node's values from a PNG (text chunks) or WebP (EXIF) saved by ComfyUI."""
    from PIL import Image

    if len(data) > MAX_IMAGE_BYTES:
        raise PresetError(f"image is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            texts = {k: v for k, v in (getattr(image, "text", None) or image.info).items() if isinstance(v, str)}
            for value in image.getexif().values():
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                if isinstance(value, str) and ":" in value:
                    key, _, rest = value.partition(":")
                    if key in ("workflow", "prompt"):
                        texts.setdefault(key, rest)
    except (OSError, SyntaxError, ValueError) as exc:
        raise PresetError(f"cannot read the image: {exc}") from None
    problems = []
    for key in ("workflow", "prompt"):  # the UI workflow first: it keeps the node ids people see
        if key in texts:
            try:
                return from_json(texts[key])
            except PresetError as exc:
                problems.append(f"{key}: {exc}")
    if problems:
        raise PresetError("; ".join(problems))
    raise PresetError("this image carries no ComfyUI workflow or prompt (was it saved by ComfyUI with metadata?)")

def from_file_bytes(data: bytes) -> ComfyImport:
    """A workflow JSON, or an image that carries one."""
    if data.lstrip()[:1] in (b"{", b"["):
        return from_json(data)
    return from_image(data)

def to_api_node(multipliers: Multipliers, node_id: str = "100", model_from: tuple[str, int] | None = None) -> dict:
    """An API-format prompt fragment with the node; connect ``model`` to your model loader's output."""
    inputs: dict[str, Any] = {}
    if model_from is not None:
        inputs["model"] = [model_from[0], model_from[1]]
    inputs.update(multipliers.node_values())
    return {node_id: {"class_type": NODE_TYPE, "inputs": inputs, "_meta": {"title": NODE_TITLE}}}

def export_notes(multipliers: Multipliers, start: float = 0.0, end: float = 1.0) -> list[str]:
    """What to tell a ComfyUI user about what the node cannot express: a step schedule, per-region factors."""
    notes = []
    if (start, end) != (0.0, 1.0):
        notes.append(f"{NODE_TYPE} has no step schedule: in ComfyUI these multipliers act in every denoising step. "
                     f"The preview applied them only from {start:.0%} to {end:.0%} of the steps, so ComfyUI's video "
                     "will differ from it.")
    if not multipliers.regions.is_identity:
        factors = ", ".join(f"{name} x{value:g}" for name, value in multipliers.regions.flat().items())
        notes.append(f"{NODE_TYPE} has only the four global multipliers, no per-region factors: the preview also "
                     f"applied {factors}, which this export leaves out.")
    return notes


def to_ui_workflow(multipliers: Multipliers, node_id: int = 1, start: float = 0.0, end: float = 1.0) -> dict:
    """A minimal UI workflow with the one node, ready to load or paste into ComfyUI; where the preview
    used what the node cannot hold (a step schedule, per-region factors), a Note beside it says so."""
    node = {
        "id": node_id,
        "type": NODE_TYPE,
        "pos": [200, 200],
        "size": [320, 130],
        "flags": {},
        "order": 0,
        "mode": 0,
        "inputs": [{"name": "model", "type": "MODEL", "link": None}],
        "outputs": [{"name": "MODEL", "type": "MODEL", "links": None, "slot_index": 0}],
        "properties": {"Node name for S&R": NODE_TYPE},
        "widgets_values": [getattr(multipliers, f) for f in FIELDS],
    }
    nodes = [node]
    notes = export_notes(multipliers, start, end)
    if notes:
        nodes.append({"id": node_id + 1, "type": "Note", "pos": [200, 360], "size": [420, 160], "flags": {},
                      "order": 1, "mode": 0, "properties": {"text": ""}, "widgets_values": ["\n\n".join(notes)]})
    return {
        "last_node_id": nodes[-1]["id"],
        "last_link_id": 0,
        "nodes": nodes,
        "links": [],
        "groups": [],
        "config": {},
        "extra": {},
        "version": 0.4,
    }
