"""ComfyUI interop: read the node's values from workflows and images, write pasteable snippets.

ComfyUI has two JSON shapes: the UI workflow (``{"nodes": [{"type": ..., "widgets_values": [...]}]}``)
and the API prompt (``{"12": {"class_type": ..., "inputs": {...}}}``). Saved PNGs carry them as
``workflow`` and ``prompt`` text chunks; saved WebPs as EXIF strings ``"workflow:{...}"`` / ``"prompt:{...}"``.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from controls import FIELDS, REGIONS, Multipliers, Regions, check_settings

from ._errors import PresetError
from ._json import read_json, type_name
from ._schema import SETTINGS, Preset, check_setting
from ._share import from_query

NODE_TYPE = "UNetTemporalAttentionMultiply"
NODE_TYPES = (NODE_TYPE, NODE_TYPE + "_V3")  # some ComfyUI versions save the node under its V3 name
NODE_TITLE = "UNet Temporal Attention Multiply"
# The project's own node (comfyui_svd_attention_lab/): the whole setting, schedule and regions included.
LAB_NODE_TYPE = "SVDAttentionLab"
LAB_NODE_TITLE = "SVD Attention Lab (multipliers, schedule, regions)"
INSTALL_HINT = ("This setting has a step schedule or per-region factors, which the stock UNetTemporalAttentionMultiply "
                "cannot hold, so it uses the SVD Attention Lab node: copy the folder comfyui_svd_attention_lab from "
                "the SVD Temporal Attention Lab's repository into ComfyUI/custom_nodes/ and restart ComfyUI.")


def lab_input(region: str, field: str) -> str:
    """The project's node's input for one region factor: ``up_self_temporal``."""
    return f"{region}_{field}"


LAB_INPUTS = (*FIELDS, "start_percent", "end_percent", *(lab_input(r, f) for r in REGIONS for f in FIELDS), "setting")
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
    node_type: str = NODE_TYPE

    @property
    def message(self) -> str:
        text = f"took the values of {self.node_type} node {self.node_id} from the {self.source}" if self.node_id \
            else f"read the {self.source}"
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
        if node.get("type") in (*NODE_TYPES, LAB_NODE_TYPE):
            found.append((i, node))
    facts = _workflow_facts([(n.get("type"), n, n.get("widgets_values") or []) for n in nodes])
    if not found:
        return _settings_only(facts, "workflow")
    ids = [str(node.get("id")) for _, node in found]
    index, node = found[0]
    path = f"nodes[{index}]"
    names = LAB_INPUTS if node.get("type") == LAB_NODE_TYPE else FIELDS
    inputs = node.get("inputs") or []
    entries = inputs.values() if isinstance(inputs, dict) else _expect(inputs, list, f"{path}.inputs",
                                                                       "a list or an object")
    for j, entry in enumerate(entries):
        entry = _expect(entry, dict, f"{path}.inputs[{j}]", "an object")
        widget = _expect(entry.get("widget") or {}, dict, f"{path}.inputs[{j}].widget", "an object")
        if widget.get("name") in names and entry.get("link") is not None:
            raise PresetError(f"{widget['name']} of node {ids[0]} comes from another node (link {entry['link']!r}); "
                              "set it as a value")
    values = node.get("widgets_values")
    if isinstance(values, dict):  # newer front ends may store widgets by name
        values = [values.get(f) for f in names]
    if not isinstance(values, list) or len(values) < len(FIELDS):
        got = f"{len(values)} values" if isinstance(values, list) else type_name(values)
        raise PresetError(f"{path}.widgets_values must list the four multipliers, got {got}")
    return _imported(dict(zip(names, values)), node.get("type"), ids, "workflow", facts)


def _from_api(prompt: dict) -> ComfyImport | None:
    if len(prompt) > MAX_NODES:
        raise PresetError(f"the prompt has {len(prompt):,} nodes; at most {MAX_NODES:,} are read")
    nodes = [(str(k), v) for k, v in prompt.items()
             if isinstance(v, dict) and v.get("class_type") in (*NODE_TYPES, LAB_NODE_TYPE)]
    others = [(v.get("class_type"), v, v.get("inputs") if isinstance(v.get("inputs"), dict) else {})
              for v in prompt.values() if isinstance(v, dict)]
    facts = _workflow_facts(others)
    if not nodes:
        return _settings_only(facts, "prompt")
    ids = [k for k, _ in nodes]
    node_id, node = nodes[0]
    inputs = _expect(node.get("inputs"), dict, f"{node_id}.inputs", "an object")
    names = LAB_INPUTS if node.get("class_type") == LAB_NODE_TYPE else FIELDS
    for field in names:
        if isinstance(inputs.get(field), list):
            raise PresetError(f"{field} of node {node_id} comes from another node ({inputs[field]!r}); "
                              "set it as a value")
    return _imported({f: inputs[f] for f in names if f in inputs}, node.get("class_type"), ids, "prompt", facts)


def _imported(values: dict[str, Any], kind: str, ids: list[str], source: str, facts: tuple) -> ComfyImport:
    """The setting of the first node found: the stock node's four values, or all of the project's node's."""
    settings, models, warnings = facts
    if kind != LAB_NODE_TYPE:
        return ComfyImport(_multipliers(values, ids[0]), ids[0], ids, source, settings, models, warnings)
    multipliers, schedule = _lab_setting(values, ids[0])
    return ComfyImport(multipliers, ids[0], ids, source, {**settings, **schedule}, models, warnings, LAB_NODE_TYPE)


def _lab_setting(values: dict[str, Any], node_id: str) -> tuple[Multipliers, dict[str, float]]:
    """The project's node's whole setting: its ``setting`` text (a preset or share link) where set,
    else its widgets."""
    text = values.get("setting") or ""
    if not isinstance(text, str):
        raise PresetError(f"setting of node {node_id} must be text, got {type_name(text)}")
    text = text.strip()
    try:
        if text.startswith("{"):
            preset = Preset.from_json(text)
        elif text:
            preset = from_query(text.split("?", 1)[-1])[0]
        else:
            preset = None
    except (PresetError, ValueError) as exc:
        raise PresetError(f"the setting text of node {node_id}: {exc}") from None
    if preset is not None:
        schedule = {k: preset.settings.get(k, default) for k, default in (("start", 0.0), ("end", 1.0))}
        return preset.multipliers, schedule
    flat = {f"{r}.{f}": values[lab_input(r, f)] for r in REGIONS for f in FIELDS if lab_input(r, f) in values}
    try:
        multipliers = Multipliers(**{f: values[f] for f in FIELDS if f in values}, regions=Regions.from_flat(flat))
        schedule = check_settings({"start": values.get("start_percent", 0.0), "end": values.get("end_percent", 1.0)},
                                  SETTINGS, PresetError)
    except ValueError as exc:
        raise PresetError(f"node {node_id}: {exc}") from None
    return multipliers, schedule


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

def uses_lab_node(multipliers: Multipliers, start: float = 0.0, end: float = 1.0) -> bool:
    """Whether a setting needs the project's node: a step schedule or region factors (the stock node has neither)."""
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
    title = NODE_TITLE if kind == NODE_TYPE else LAB_NODE_TITLE
    return {node_id: {"class_type": kind, "inputs": inputs | values, "_meta": {"title": title}}}


def to_api_prompt(multipliers: Multipliers, settings: dict, checkpoint: str = "svd_xt.safetensors",
                  image: str = "example.png") -> dict:
    """A whole SVD image-to-video prompt in API format with the node between the loader and the
    sampler, and the app's render settings (``width`` / ``height`` 0 mean SVD's 1024 x 576)."""
    s = settings
    return {
        "1": {"class_type": "ImageOnlyCheckpointLoader", "inputs": {"ckpt_name": checkpoint}},
        **to_api_node(multipliers, "2", ("1", 0), s.get("start", 0.0), s.get("end", 1.0)),
        "3": {"class_type": "VideoLinearCFGGuidance", "inputs": {"model": ["2", 0], "min_cfg": s["min_guidance"]}},
        "4": {"class_type": "LoadImage", "inputs": {"image": image}},
        "5": {"class_type": "SVD_img2vid_Conditioning", "inputs": {
            "clip_vision": ["1", 1], "init_image": ["4", 0], "vae": ["1", 2], "width": s["width"] or 1024,
            "height": s["height"] or 576, "video_frames": s["frames"], "motion_bucket_id": s["motion_bucket_id"],
            "fps": s["fps"], "augmentation_level": s["noise_aug_strength"]}},
        "6": {"class_type": "KSampler", "inputs": {
            "model": ["3", 0], "seed": s["seed"], "steps": s["steps"], "cfg": s["max_guidance"],
            "sampler_name": "euler", "scheduler": "karras", "positive": ["5", 0], "negative": ["5", 1],
            "latent_image": ["5", 2], "denoise": 1.0}},
        "7": {"class_type": "VAEDecode", "inputs": {"samples": ["6", 0], "vae": ["1", 2]}},
        "8": {"class_type": "CreateVideo", "inputs": {"images": ["7", 0], "fps": float(s["fps"])}},
        "9": {"class_type": "SaveVideo", "inputs": {"video": ["8", 0], "filename_prefix": "video/svd-attention-lab",
                                                    "format": "auto", "codec": "auto"}},
    }


def export_notes(multipliers: Multipliers, start: float = 0.0, end: float = 1.0) -> list[str]:
    """What a ComfyUI user must know about an export: the project's node, where the setting needs it."""
    return [INSTALL_HINT] if uses_lab_node(multipliers, start, end) else []


def to_ui_workflow(multipliers: Multipliers, node_id: int = 1, start: float = 0.0, end: float = 1.0) -> dict:
    """A minimal UI workflow with the node, ready to load or paste into ComfyUI: the stock
    ``UNetTemporalAttentionMultiply`` where it holds the whole setting, else the project's node with a
    Note saying how to install it."""
    kind, values = _node_inputs(multipliers, start, end)
    node = {
        "id": node_id,
        "type": kind,
        "pos": [200, 200],
        "size": [320, 130 if kind == NODE_TYPE else 560],
        "flags": {},
        "order": 0,
        "mode": 0,
        "inputs": [{"name": "model", "type": "MODEL", "link": None}],
        "outputs": [{"name": "MODEL", "type": "MODEL", "links": None, "slot_index": 0}],
        "properties": {"Node name for S&R": kind},
        "widgets_values": list(values.values()),
    }
    nodes = [node]
    notes = export_notes(multipliers, start, end)
    if notes:
        nodes.append({"id": node_id + 1, "type": "Note", "pos": [560, 200], "size": [420, 160], "flags": {},
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
