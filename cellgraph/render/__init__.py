"""Rendering: a checked graph -> Asimov-style diagrams (Graphviz), gallery and poster.

``cellgraph.render`` is both this package and a function: ``cellgraph.render("specs/zoo/lstm.yaml")``
draws a spec (see :func:`cellgraph.render.api.render`), while ``cellgraph.render.layout`` and the
other modules stay importable. The module's class gets a ``__call__`` for that — the one piece of
magic in cellgraph, there so the issue's promised spelling works without renaming the layer.

May import: ``cellgraph.errors``, ``cellgraph.cells``, ``cellgraph.spec``, ``cellgraph.graph``.
Never imports the compiler or training code, nor JAX.
"""

import sys as _sys
import types as _types
from typing import Any as _Any

from .api import Rendering as Rendering
from .api import render as render
from .output import RenderError as RenderError


class _CallableModule(_types.ModuleType):
    def __call__(self, *args: _Any, **kwargs: _Any) -> Rendering:
        return render(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
