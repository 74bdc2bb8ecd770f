"""Resolve a model source and load it once: embedded demo model, diffusers folder, Hub id or single file."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import math
import os
import re
import threading
from pathlib import Path
from typing import Iterator

import torch

from patcher import SVD, AttentionPatch, ModelFamily, pipeline_family
from svd_attention_lab.checkpoints import (
    COMPONENTS,
    FP16_WEIGHTS,
    LABELS,
    build_single_file,
    check_folder_fits,
    constructor_kwargs,
    read_json_object,
    release_name,
    svd_xt_config,
)
from svd_attention_lab.files import FileRefused, regular_file

from ._errors import ModelLoadError

logger = logging.getLogger(__name__)

MODEL_ENV = "SVD_MODEL"
DEMO_MODEL_DIR = Path(__file__).resolve().parents[1] / "demo_model" / "weights"  # trained by demo_model.train
DEMO_FRAMES = 8
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# How a render computes: "reference" is what ComfyUI computes (and Stability's code, sgm, for the UNet):
# diffusers builds the resnets' GroupNorms with eps 1e-6 where they use 1e-5, and its pipeline draws the
# augmentation noise before the latents where ComfyUI draws the latents first (engine._sampling).
# "diffusers" keeps both as diffusers has them.
NUMERICS = ("reference", "diffusers")
REFERENCE_RESNET_EPS = 1e-5
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """Where a model's weights come from: every part that changes the frames, as data."""

    kind: str  # "demo", "folder", "hub", or "file" (a single-file SGM checkpoint)
    location: str  # the folder, Hub id or file
    base: ModelSource | None = None  # a single file's missing parts (VAE, image encoder) come from here
    frames: int | None = None  # a single file's trained frames, where stated (``--model-frames``)

    @property
    def is_demo(self) -> bool:
        return self.kind == "demo"

    @property
    def key(self) -> str:
        """One line naming every part: equal keys load the same weights."""
        parts = [f"{self.kind}:{self.location}"]
        if self.base is not None:
            parts.append(f"base={self.base.key}")
        if self.frames is not None:
            parts.append(f"frames={self.frames}")
        return " ".join(parts)


def resolve_source(spec: str | os.PathLike | None = None, *, base: str | os.PathLike | None = None,
                   frames: int | None = None) -> ModelSource:
    """Turn ``--model`` / ``$SVD_MODEL`` (and ``--base``, ``--model-frames``) into a source; empty or
    ``demo`` means the embedded model. ``base`` and ``frames`` apply to single files only."""
    source = _resolve(spec)
    if source.kind == "file":
        return dataclasses.replace(source, base=_resolve(base) if base else None, frames=frames)
    if base:
        logger.warning("--base %s is for single-file checkpoints; %s does not use it", base, source.location)
    return source


def _resolve(spec: str | os.PathLike | None) -> ModelSource:
    if spec is None:
        spec = os.environ.get(MODEL_ENV, "")
    spec = str(spec).strip()
    if spec in ("", "demo"):
        return ModelSource("demo", str(DEMO_MODEL_DIR))
    path = Path(spec).expanduser()
    if path.is_dir():
        return ModelSource("folder", str(path.resolve()))
    if path.is_file():
        if path.suffix == ".safetensors":
            return ModelSource("file", str(path.resolve()))
        raise ModelLoadError(f"{spec} is a file but not .safetensors; only .safetensors weights are loaded "
                             "(pickle checkpoints can run code when loaded)")
    if os.path.lexists(path):  # a FIFO, a device, a broken link: say what it is, never open it
        try:
            regular_file(path)
        except FileRefused as exc:
            raise ModelLoadError(str(exc)) from None
    if _HUB_ID.match(spec) and not spec.startswith((".", "/", "~")):
        return ModelSource("hub", spec)
    raise ModelLoadError(f"model {spec!r} is neither an existing folder nor a Hub id like owner/name")


def zerogpu_host() -> bool:
    """Running on a ZeroGPU Space (as the ``spaces`` package decides it)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def default_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_dtype(device: str) -> torch.dtype:
    return torch.float32 if device == "cpu" else torch.float16


def resolve_placement(device: str | None = None, dtype: str | torch.dtype | None = None) -> tuple[str, torch.dtype]:
    """The device and dtype a load with these options uses: the best device and its default dtype
    where not given; a dtype by name must be one of ``DTYPES``."""
    device = device or default_device()
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ModelLoadError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        dtype = DTYPES[dtype]
    return device, dtype or default_dtype(device)


def check_numerics(numerics: str | None) -> str:
    """``numerics`` checked; None means the default, reference."""
    numerics = numerics or NUMERICS[0]
    if numerics not in NUMERICS:
        raise ModelLoadError(f"numerics must be one of {', '.join(NUMERICS)}, got {numerics!r}")
    return numerics


def use_reference_numerics(unet: torch.nn.Module) -> int:
    """Give the UNet's resnet GroupNorms Stability's eps (1e-5), in place; return how many changed.

    diffusers' ``UNetSpatioTemporalConditionModel`` builds 72 of SVD's 88 with 1e-6; sgm's ResBlock and
    ComfyUI's use 1e-5 throughout. Nothing else differs: the transformers' norms are 1e-6 in all three."""
    changed = 0
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.GroupNorm) and ".resnets." in f".{name}" and module.eps != REFERENCE_RESNET_EPS:
            module.eps = REFERENCE_RESNET_EPS
            changed += 1
    return changed


def weights_key(source: ModelSource, device: str, dtype: torch.dtype, numerics: str | None = None) -> str:
    """Identifies the weights and the numerics a render depends on (for caches and batch job ids)."""
    return f"{source.key}:{device}:{dtype}:{check_numerics(numerics)}"


@dataclasses.dataclass
class LoadedModel:
    pipe: object  # StableVideoDiffusionPipeline
    patch: AttentionPatch
    source: ModelSource
    device: str
    dtype: torch.dtype
    native_size: tuple[int, int]  # (width, height) the UNet was configured for
    native_frames: int
    family: ModelFamily = SVD
    release: str = ""  # "SVD", "SVD-XT" or "SVD-XT 1.1"
    from_base: tuple[str, ...] = ()  # the components a single file lacked, loaded from ``source.base``
    numerics: str = NUMERICS[0]

    @property
    def key(self) -> str:
        """Identifies the weights and numerics, for caches."""
        return weights_key(self.source, self.device, self.dtype, self.numerics)

    @property
    def sigma_range(self) -> tuple[float, float]:
        """The scheduler's noise levels (min, max): SVD's 0.002 to 700, or what a checkpoint set."""
        config = self.pipe.scheduler.config
        return float(config.sigma_min), float(config.sigma_max)

    @property
    def sampling_note(self) -> str | None:
        """What to say about a checkpoint's own sampling range; None where it is SVD's."""
        svd = svd_xt_config("scheduler")
        low, high = self.sigma_range
        if all(math.isclose(a, b, rel_tol=1e-6) for a, b in ((low, svd["sigma_min"]), (high, svd["sigma_max"]))):
            return None
        return f"sampling σ {low:g}–{high:g} from the checkpoint (SVD's is {svd['sigma_min']:g}–{svd['sigma_max']:g})"

    def notes(self) -> list[str]:
        """What is not the default about how it renders: the numerics, a checkpoint's own sampling range."""
        numerics = (None if self.numerics == "reference"
                    else "diffusers' numerics (resnet GroupNorm eps 1e-6, its noise order)")
        return [note for note in (numerics, self.sampling_note) if note]

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def describe(self) -> str:
        """What was loaded, for the app's badge: where from, which SVD, device and dtype."""
        notes = "".join(f"; {note}" for note in self.notes())
        if self.source.is_demo:
            return (f"embedded demo model (a tiny SVD-architecture model, not SVD) on {self.device} "
                    f"({self.dtype_name}){notes}")
        kind = {"file": "single file", "folder": "diffusers folder", "hub": "Hub"}[self.source.kind]
        parts = " and ".join(LABELS[c] for c in self.from_base)
        base = f"; its {parts} from {self.source.base.location}" if self.from_base else ""
        return f"{self.source.location} ({kind}, {self.release}{base}) on {self.device} ({self.dtype_name}){notes}"


def load_model(
    source: ModelSource | str | None = None,
    *,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    cpu_offload: bool = False,
    forward_chunking: bool = False,
    compile: bool = False,
    base: str | None = None,
    frames: int | None = None,
    numerics: str | None = None,
) -> LoadedModel:
    """Load a StableVideoDiffusionPipeline from ``source`` (``.safetensors`` weights only).

    ``compile`` compiles the UNet once (``torch.compile``) for dedicated GPUs. The multipliers are
    applied in place to the parameters, which the compiled graph reads as inputs, so moving a
    slider needs no recompilation. ZeroGPU does not support ``torch.compile``: there the app compiles
    the UNet ahead of time at start-up instead (``compile_ahead_of_time``), and this does nothing.

    A single-file checkpoint (``source`` a ``.safetensors`` file) gives every part it holds; what
    it lacks (a UNet-only fine-tune's VAE and image encoder) comes from ``base``, a folder or Hub
    id. ``frames`` overrides the frames its UNet was trained for (otherwise from its metadata, the
    base model, or its name: ``svd_xt`` 25, else 14).

    ``numerics``: ``"reference"`` (the default) computes what ComfyUI computes, its noise order
    included (``use_reference_numerics``, ``engine._sampling``); ``"diffusers"`` keeps diffusers' own
    build and the pipeline's own noise.
    """
    if not isinstance(source, ModelSource):
        source = resolve_source(source, base=base, frames=frames)
    device, dtype = resolve_placement(device, dtype)
    numerics = check_numerics(numerics)

    release_hints = ""  # text that may name the release (1.1): a single file's metadata
    from_base: tuple[str, ...] = ()
    if source.kind == "file":
        pipe, from_base, release_hints = _load_single_file(source, dtype)
        if not from_base:
            source = dataclasses.replace(source, base=None)
    else:
        pipe = _load_pretrained(source, dtype)

    if numerics == "reference":
        use_reference_numerics(pipe.unet)
    # Place it, with the options for small GPUs.
    if cpu_offload and device != "cpu":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    if forward_chunking:
        pipe.unet.enable_forward_chunking()
    if compile and not zerogpu_host():
        pipe.unet.compile()  # in place: pipe.unet keeps its type, config and parameters
    pipe.set_progress_bar_config(disable=True)

    family = pipeline_family(type(pipe).__name__)
    logger.info("loaded %s on %s (%s)", source.location, device, dtype)
    return LoadedModel(
        pipe=pipe,
        patch=AttentionPatch(pipe.unet),
        source=source,
        device=device,
        dtype=dtype,
        native_size=family.pipeline.native_size_of(pipe.unet.config.sample_size, pipe.vae_scale_factor),
        native_frames=int(pipe.unet.config.num_frames),
        family=family,
        release=release_name(int(pipe.unet.config.num_frames), source.location + " " + release_hints),
        numerics=numerics,
        from_base=from_base,
    )


def _check_folder(source: ModelSource) -> None:
    """A folder must hold an SVD pipeline before diffusers tries to load it."""
    index = Path(source.location) / "model_index.json"
    if not index.is_file():
        raise ModelLoadError(f"{source.location} has no model_index.json; it is not a diffusers pipeline folder")
    try:
        class_name = read_json_object(index).get("_class_name")
    except FileRefused as exc:
        raise ModelLoadError(str(exc)) from None
    if pipeline_family(str(class_name)) is None:
        raise ModelLoadError(f"{source.location} holds a {class_name}, not a StableVideoDiffusionPipeline")


def _load_pretrained(source: ModelSource, dtype: torch.dtype, **components):
    """A diffusers folder or Hub id, preferring the fp16 variant in half precision; a folder holding
    only fp16 files (as many download them, to save half the space) loads too, upcast to ``dtype``
    where that is float32. ``components`` already built are used as they are."""
    with _quiet_libraries():  # heavy import, kept off module import
        from diffusers import StableVideoDiffusionPipeline

    if source.kind in ("demo", "folder"):
        _check_folder(source)
    kwargs = {"dtype": dtype, "use_safetensors": True, **components}
    if source.kind == "hub":
        variant = "fp16" if dtype == torch.float16 else None
    else:
        variant = _folder_variant(Path(source.location), dtype, skip=tuple(components))
        for component in COMPONENTS:  # every tensor from a file: never one diffusers or transformers makes up
            if component not in components:
                try:
                    check_folder_fits(Path(source.location), component, prefer_fp16=variant == "fp16")
                except FileRefused as exc:
                    raise ModelLoadError(str(exc)) from None
    try:
        with _quiet_libraries():
            try:
                pipe = StableVideoDiffusionPipeline.from_pretrained(source.location, variant=variant, **kwargs)
            except (OSError, ValueError):
                if variant is None or source.kind != "hub":  # a folder's variant is read from its files
                    raise
                # a Hub repository without fp16 files: the full-precision ones (a second failure is the real one)
                pipe = StableVideoDiffusionPipeline.from_pretrained(source.location, **kwargs)
    except Exception as exc:  # diffusers and huggingface_hub raise many kinds; say one clear thing
        raise ModelLoadError(_explain_load_failure(source, exc)) from exc
    if not isinstance(pipe, StableVideoDiffusionPipeline):
        raise ModelLoadError(f"{source.location} is a {type(pipe).__name__}, not a StableVideoDiffusionPipeline")
    return pipe


def _load_single_file(source: ModelSource, dtype: torch.dtype):
    """A pipeline from one SGM checkpoint, the components it lacked (taken from ``source.base``), and
    text from its metadata that may name its release."""
    base_source = source.base
    defaults = {}
    if base_source is not None:  # a fine-tune's UNet has its base's configuration (heads, frames)
        from diffusers import UNetSpatioTemporalConditionModel

        if base_source.kind != "hub":
            _check_folder(base_source)
        try:
            defaults["unet"] = dict(UNetSpatioTemporalConditionModel.load_config(base_source.location,
                                                                                 subfolder="unet"))
        except Exception as exc:
            raise ModelLoadError(_explain_load_failure(base_source, exc)) from exc
    try:
        components, configs, metadata = build_single_file(source.location, dtype, frames=source.frames,
                                                          defaults=defaults, has_base=base_source is not None)
    except FileRefused as exc:
        raise ModelLoadError(str(exc)) from None
    hints = " ".join(v for k, v in metadata.items() if k.startswith("modelspec."))
    name = Path(source.location).name
    missing = [c for c in COMPONENTS if c not in components]
    if not missing:
        from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline
        from transformers import CLIPImageProcessorPil

        if base_source is not None:
            logger.warning("%s holds the whole pipeline; --base %s is not used", name, base_source.location)
        scheduler = EulerDiscreteScheduler.from_config(configs["scheduler"])
        extractor_config = configs.get("feature_extractor") or svd_xt_config("feature_extractor")
        extractor = CLIPImageProcessorPil(**constructor_kwargs(extractor_config))
        pipe = StableVideoDiffusionPipeline(**components, scheduler=scheduler, feature_extractor=extractor)
        return pipe, (), hints
    parts = " and ".join(LABELS[c] for c in missing)
    logger.info("%s: the %s from %s", name, parts, base_source.location)
    pipe = _load_pretrained(base_source, dtype, **components)
    return pipe, tuple(missing), hints


@contextlib.contextmanager
def _quiet_libraries() -> Iterator[None]:
    """Hide loading progress bars and transformers' advice about optional backends."""
    import diffusers
    import transformers

    levels = (diffusers.logging.get_verbosity(), transformers.logging.get_verbosity())
    diffusers.logging.set_verbosity_error()
    transformers.logging.set_verbosity_error()
    diffusers.logging.disable_progress_bar()
    transformers.logging.disable_progress_bar()
    try:
        yield
    finally:
        diffusers.logging.set_verbosity(levels[0])
        transformers.logging.set_verbosity(levels[1])
        diffusers.logging.enable_progress_bar()
        transformers.logging.enable_progress_bar()


def _folder_variant(folder: Path, dtype: torch.dtype, skip: tuple[str, ...] = ()) -> str | None:
    """``"fp16"`` when every weighted part has fp16 files and we run in half precision, or when some
    part has only those; None when full-precision files are all there. Missing weights: an error
    naming each part and the files it holds. ``skip``: parts given already."""
    found = {c: sorted(p.name for p in (folder / c).iterdir() if p.is_file()) if (folder / c).is_dir() else []
             for c in COMPONENTS if c not in skip}  # the parts that carry weights
    half = {c: any(FP16_WEIGHTS.search(f) for f in files) for c, files in found.items()}
    full = {c: any(f.endswith(".safetensors") and not FP16_WEIGHTS.search(f) for f in files)
            for c, files in found.items()}
    missing = [c for c in found if not (half[c] or full[c])]
    if missing:
        listed = "; ".join(f"{c}/ holds {', '.join(found[c]) or 'nothing'}" for c in missing)
        pickles = any(f.endswith((".bin", ".ckpt", ".pt", ".pth")) for c in missing for f in found[c])
        raise ModelLoadError(f"{folder} has no .safetensors weights for {', '.join(missing)} ({listed})"
                             + ("; pickle weights (.bin) are refused, as they can run code when loaded"
                                if pickles else ""))
    if all(half.values()) and (dtype == torch.float16 or not all(full.values())):
        return "fp16"
    return None if all(full.values()) else "fp16"


def _explain_load_failure(source: ModelSource, exc: Exception) -> str:
    """One sentence for what went wrong, chosen by the exception's type (never by its wording)."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    chain = [e for e in (exc, exc.__cause__, exc.__context__) if e is not None]

    def raised(*kinds: type) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    if raised(GatedRepoError):
        return (f"{source.location} is a gated repository: accept its licence on huggingface.co and set HF_TOKEN "
                "to a token of that account")
    if raised(RepositoryNotFoundError):
        return f"no repository {source.location} on the Hub (or it is private: set HF_TOKEN)"
    if raised(LocalEntryNotFoundError, OfflineModeIsEnabled, ConnectionError):
        return (f"cannot download {source.location}: the Hub is unreachable and the model is not in the local cache; "
                "download it once with network access, or point SVD_MODEL at a local diffusers folder")
    if raised(EntryNotFoundError):
        return f"{source.location} lacks a file the pipeline needs ({exc}); only .safetensors weights are loaded"
    text = str(exc)
    reason = text.splitlines()[0] if text else type(exc).__name__
    return f"could not load {source.location} as an SVD pipeline: {reason}"


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--model`` and how to run it; shared by ``python app.py`` and ``python -m svd_attention_lab``."""
    parser.add_argument("--model", help="diffusers folder, Hub id, or single-file checkpoint (.safetensors) "
                        f"(default: ${MODEL_ENV}, else the embedded demo model)")
    parser.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    parser.add_argument("--dtype", choices=list(DTYPES), help="default: float16 on GPUs, float32 on the CPU")
    parser.add_argument("--cpu-offload", action="store_true", help="keep idle parts in CPU memory (small GPUs)")
    parser.add_argument("--forward-chunking", action="store_true",
                        help="chunk the UNet's feed-forward layers (less memory)")
    parser.add_argument("--compile", action="store_true",
                        help="compile the UNet once: torch.compile, or ahead of time on ZeroGPU "
                        "(where the app always does, at start-up)")
    parser.add_argument("--base", help="with a single-file checkpoint that lacks parts (a UNet-only fine-tune): "
                        "the folder or Hub id they come from")
    parser.add_argument("--numerics", choices=NUMERICS, default=NUMERICS[0],
                        help="reference: compute what ComfyUI computes, its noise order included, so a seed gives "
                        "ComfyUI's video (default); diffusers: plain diffusers (resnet GroupNorm eps 1e-6 instead "
                        "of 1e-5, the pipeline's own noise order)")
    parser.add_argument("--model-frames", type=int, choices=(14, 25), help="with a single-file checkpoint: the frames "
                        "its UNet was trained for (default: its metadata, the base model, or 25 if named svd_xt, "
                        "else 14)")


def model_options(args: argparse.Namespace) -> dict:
    """``load_model``'s keyword arguments from the options above."""
    return {"device": args.device, "dtype": args.dtype, "cpu_offload": args.cpu_offload,
            "forward_chunking": args.forward_chunking, "compile": args.compile, "base": args.base,
            "frames": args.model_frames, "numerics": args.numerics}


class ModelHolder:
    """Loads the model lazily, once, on first use; safe to call from several threads."""

    def __init__(self, source: str | None = None, **options) -> None:
        self._spec = source
        self._options = options  # load_model's keyword arguments
        self._source: ModelSource | None = None
        self._model: LoadedModel | None = None
        self._lock = threading.Lock()

    @property
    def source(self) -> ModelSource:
        """The source the model loads from, resolved once."""
        if self._source is None:
            self._source = resolve_source(self._spec, base=self._options.get("base"),
                                          frames=self._options.get("frames"))
        return self._source

    @property
    def loaded(self) -> LoadedModel | None:
        return self._model

    def placement(self) -> tuple[str, torch.dtype]:
        """The device and dtype the model runs in: the loaded model's own, else what the load will use."""
        if self._model is not None:
            return self._model.device, self._model.dtype
        return resolve_placement(self._options.get("device"), self._options.get("dtype"))

    def numerics(self) -> str:
        return self._model.numerics if self._model is not None else check_numerics(self._options.get("numerics"))

    def get(self) -> LoadedModel:
        with self._lock:
            if self._model is None:
                options = {k: v for k, v in self._options.items() if k not in ("base", "frames")}
                self._model = load_model(self.source, **options)
            return self._model
