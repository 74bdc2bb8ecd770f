"""Give a handler one named parameter per knob, so UIs and API clients name each one."""

from __future__ import annotations

import functools
import inspect
from typing import Callable, Sequence

from ._multipliers import FIELDS, MULTIPLIER_DEFAULT, REGIONS, Multipliers, Regions, region_input, region_param
from ._settings import SETTINGS, Setting

REGION_PARAMS = tuple(region_input(region, field) for region in REGIONS for field in FIELDS)  # up_self_temporal


def with_named_parameters(fn: Callable | None = None, *, table: Sequence[Setting] = SETTINGS):
    """Spell out ``fn``'s ``multipliers`` and ``settings`` parameters, one named parameter per knob.

    The wrapper's signature lists ``self_structural=1.0, ..., cross_temporal=1.0`` and the twelve
    per-region factors ``down_self_structural=1.0, ..., up_cross_temporal=1.0`` where ``fn`` had
    ``multipliers``, and ``frames=8, steps=10, ...`` where it had ``settings``, so a UI framework or
    API client sees (and may pass) each knob by name. ``fn`` receives a validated ``Multipliers``
    and a dict of the settings' values. Every other parameter keeps its place, name and default.
    """
    if fn is None:
        return functools.partial(with_named_parameters, table=table)
    Param = inspect.Parameter
    expansions = {
        "multipliers": [Param(f, Param.POSITIONAL_OR_KEYWORD, default=MULTIPLIER_DEFAULT, annotation=float)
                        for f in (*FIELDS, *REGION_PARAMS)],
        "settings": [Param(s.name, Param.POSITIONAL_OR_KEYWORD, default=s.default, annotation=s.kind) for s in table],
    }
    signature = inspect.signature(fn)
    if not expansions.keys() & signature.parameters.keys():
        raise TypeError(f"{fn.__qualname__} has neither a 'multipliers' nor a 'settings' parameter to spell out")
    params = [q for p in signature.parameters.values() for q in expansions.get(p.name, [p])]
    new_signature = signature.replace(parameters=params)
    has = {name: name in signature.parameters for name in expansions}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = new_signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if has["multipliers"]:
            regions = Regions.from_flat({region_param(r, f): arguments.pop(region_input(r, f))
                                         for r in REGIONS for f in FIELDS})
            arguments["multipliers"] = Multipliers(**{f: arguments.pop(f) for f in FIELDS}, regions=regions)
        if has["settings"]:
            arguments["settings"] = {s.name: arguments.pop(s.name) for s in table}
        return fn(**arguments)

    wrapper.__signature__ = new_signature
    annotations = {k: v for k, v in getattr(fn, "__annotations__", {}).items() if k not in expansions}
    wrapper.__annotations__ = {**annotations, **{p.name: p.annotation for ps in expansions.values() for p in ps}}
    return wrapper
