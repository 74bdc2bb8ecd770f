"""Give a handler one keyword parameter per render setting, so APIs name each setting."""

from __future__ import annotations

import functools
import inspect
from typing import Callable, Sequence

from ._settings import SETTINGS, Setting


def with_setting_parameters(fn: Callable | None = None, *, table: Sequence[Setting] = SETTINGS, keyword: str = "settings"):
    """Replace ``fn``'s ``settings`` parameter by the table's settings, each with its default.

    The wrapper's signature lists ``frames=8, steps=10, ...`` where ``fn`` had ``settings``, so a
    UI framework or API client sees (and may pass) each setting by name; ``fn`` receives them as
    one dict. Every other parameter keeps its place, name and default.
    """
    if fn is None:
        return functools.partial(with_setting_parameters, table=table, keyword=keyword)
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    names = [p.name for p in params]
    if keyword not in names:
        raise TypeError(f"{fn.__qualname__} has no {keyword!r} parameter to expand")
    at = names.index(keyword)
    expanded = [
        inspect.Parameter(s.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=s.default, annotation=s.kind)
        for s in table
    ]
    new_signature = signature.replace(parameters=[*params[:at], *expanded, *params[at + 1:]])

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        bound = new_signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        values = {s.name: arguments.pop(s.name) for s in table}
        return fn(**arguments, **{keyword: values})

    wrapper.__signature__ = new_signature
    annotations = {k: v for k, v in getattr(fn, "__annotations__", {}).items() if k != keyword}
    wrapper.__annotations__ = {**annotations, **{s.name: s.kind for s in table}}
    return wrapper
