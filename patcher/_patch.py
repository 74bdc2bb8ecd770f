"""The operation: scale attention output projections in place, reversibly."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from typing import Iterator, Mapping

import torch

from ._errors import PatchError
from ._keys import KEY_REGIONS, match_key
from svd_attention_lab.controls import FIELDS, Multipliers

logger = logging.getLogger(__name__)

SCALABLE_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


def scale_tensor(original: torch.Tensor, multiplier: float) -> torch.Tensor:
    """``original`` times ``multiplier``, computed in float32 and cast back to its own dtype.

    The same arithmetic as ComfyUI's ``calculate_weight`` (float32 copy, ``*=``, cast back), so the
    result is bitwise equal to what the node produces.
    """
    check_scalable(original.dtype, "tensor")
    scaled = original.to(torch.float32, copy=True)
    scaled *= multiplier
    return scaled.to(original.dtype)


def check_scalable(dtype: torch.dtype, name: str) -> None:
    if dtype not in SCALABLE_DTYPES:
        raise PatchError(
            f"{name} has dtype {dtype}; only float32, float16, bfloat16 and float64 weights can be scaled "
            "(quantized and fp8 weights are not supported)"
        )


def patch_state_dict(state_dict: Mapping[str, torch.Tensor], multipliers: Multipliers) -> dict[str, torch.Tensor]:
    """A new state dict with the targeted tensors scaled; every other tensor is shared, not copied."""
    patched = dict(state_dict)
    for name, tensor in state_dict.items():
        match = match_key(name)
        if match is not None:
            check_scalable(tensor.dtype, name)
            patched[name] = scale_tensor(tensor, multipliers.value(match.field, match.region))
    return patched


class AttentionPatch:
    """Scales a UNet's attention output projections in place and restores them bitwise.

    The targeted parameters are found once; each is backed up once (only those, not the whole
    UNet) on its own device. ``apply`` always starts from the backups, so applying twice equals
    applying once, and parameters stay the same tensor objects, so a compiled UNet keeps working.
    """

    def __init__(self, unet: torch.nn.Module) -> None:
        self._lock = threading.RLock()
        self._params: dict[str, torch.nn.Parameter] = {}
        self._fields: dict[str, str] = {}
        self._regions: dict[str, str] = {}
        for name, param in unet.named_parameters():
            match = match_key(name)
            if match is None:
                continue
            check_scalable(param.dtype, name)
            self._params[name] = param
            self._fields[name] = match.field
            self._regions[name] = match.region
        if not self._params:
            raise PatchError(
                "no attention output projections (attn1/attn2 .to_out.0) found: is this an SVD UNet?"
            )
        self._backups = {name: param.detach().clone() for name, param in self._params.items()}
        self._current = Multipliers()
        self._unet_parameters = sum(p.numel() for p in unet.parameters())

    @property
    def targets(self) -> dict[str, str]:
        """Each targeted parameter name and the multiplier field that scales it."""
        return dict(self._fields)

    @property
    def current(self) -> Multipliers:
        return self._current

    @torch.no_grad()
    def apply(self, multipliers: Multipliers) -> list[str]:
        """Scale the targets by ``multipliers`` (from the originals); return the names rewritten."""
        if not isinstance(multipliers, Multipliers):
            raise TypeError(f"expected Multipliers, got {type(multipliers).__name__}")
        with self._lock:
            values = {name: multipliers.value(field, self._regions[name]) for name, field in self._fields.items()}
            current = {name: self._current.value(field, self._regions[name]) for name, field in self._fields.items()}
            touched = [name for name in self._fields if values[name] != current[name]]
            try:
                for name in touched:
                    value = values[name]
                    original = self._backups[name]
                    # x * 1.0 in float32 and back is exact, so identity is a plain copy.
                    self._params[name].copy_(original if value == 1.0 else scale_tensor(original, value))
            except BaseException:
                self._restore_all()
                raise
            self._current = multipliers
            return touched

    @torch.no_grad()
    def restore(self) -> None:
        """Put back the original values, bitwise."""
        with self._lock:
            self._restore_all()

    def _restore_all(self) -> None:
        for name, param in self._params.items():
            param.copy_(self._backups[name])
        self._current = Multipliers()

    @contextlib.contextmanager
    def held(self) -> Iterator[AttentionPatch]:
        """Hold the UNet for the block (one thread at a time): the block applies what it needs, when it
        needs it (a schedule changes the multipliers between steps), and the original values are back
        afterwards, even on error."""
        with self._lock:
            try:
                yield self
            finally:
                self.restore()

    @contextlib.contextmanager
    def applied(self, multipliers: Multipliers) -> Iterator[AttentionPatch]:
        """Hold the patch for the block, then restore, even on error; one thread at a time."""
        with self.held():
            self.apply(multipliers)
            yield self

    def summary(self) -> dict:
        """Tensors and parameters scaled, per multiplier field and per UNet region."""
        def stats(key_of: dict[str, str], order: tuple[str, ...]) -> dict[str, dict[str, int]]:
            tensors = Counter(key_of.values())
            params: Counter[str] = Counter()
            for name, group in key_of.items():
                params[group] += self._params[name].numel()
            return {g: {"tensors": tensors[g], "parameters": params[g]} for g in order if tensors[g] or g in FIELDS}

        total_params = sum(p.numel() for p in self._params.values())
        return {
            "groups": stats(self._fields, FIELDS),
            "regions": stats(self._regions, KEY_REGIONS),
            "total": {"tensors": len(self._params), "parameters": total_params},
            "unet_parameters": self._unet_parameters,
            "fraction": total_params / self._unet_parameters,
        }
