"""cellgraph: neural networks as graphs of the Neural Network Zoo's typed cells.

One YAML spec becomes a validated graph (the ``spec`` and ``graph`` layers) and chart-style
diagrams (``render``: ``cellgraph.render("specs/zoo/lstm.yaml").save("lstm.svg")``); the JAX
compiler (``cellgraph.compile``), training (``cellgraph.train``) and what comes after it
(``evaluate``, ``save``, ``load``, ``export``, ``sample``, ``plot_samples``, ``plot_attention``)
are loaded on first use, so importing cellgraph never imports JAX.
"""

from typing import Any as _Any

from .errors import CellgraphError as CellgraphError
from .errors import LimitError as LimitError
from .errors import Problem as Problem
from .errors import SourceLoc as SourceLoc
from .errors import SpecError as SpecError
from .graph import build_graph as build_graph
from .graph import load_graph as load_graph
from .graph import summarize as summarize
from .spec.compose import load_spec as load_spec
from .spec.compose import load_spec_text as load_spec_text
from .spec.limits import Limits as Limits
from .spec.model import Spec as Spec

__all__ = [
    "CellgraphError",
    "LimitError",
    "Limits",
    "Problem",
    "RenderError",
    "Rendering",
    "SourceLoc",
    "Spec",
    "SpecError",
    "attention_maps",
    "build_graph",
    "compile",
    "evaluate",
    "export",
    "flax_module",
    "load",
    "load_graph",
    "load_run",
    "load_spec",
    "load_spec_text",
    "plot_attention",
    "plot_samples",
    "render",
    "sample",
    "save",
    "search",
    "summarize",
    "train",
    "traverse",
    "view",
]

_LAZY: dict[str, tuple[str, str | None]] = {  # public name -> (module, attribute): loaded on first use
    # drawing (Graphviz's wrapper and the layout code): not needed to validate or train
    "render": ("cellgraph.render", None),  # a callable module: cellgraph.render(spec, ...)
    "Rendering": ("cellgraph.render", "Rendering"),
    "RenderError": ("cellgraph.render", "RenderError"),
    # these import JAX
    "compile": ("cellgraph.compiler", "compile"),
    "train": ("cellgraph.train", "train"),
    "evaluate": ("cellgraph.train.loop", "evaluate"),
    "export": ("cellgraph.compiler.export", "export"),
    "flax_module": ("cellgraph.compiler.linen", "flax_module"),  # imports Flax too
    "save": ("cellgraph.artifact", "save"),
    "load": ("cellgraph.artifact", "load"),
    "load_run": ("cellgraph.artifact", "load_run"),
    # what a trained network generates and attends to (sampling.py, figures.py: Matplotlib)
    "sample": ("cellgraph.sampling", "sample"),
    "traverse": ("cellgraph.sampling", "traverse"),
    "attention_maps": ("cellgraph.sampling", "attention_maps"),
    "plot_samples": ("cellgraph.figures", "plot_samples"),
    "plot_attention": ("cellgraph.figures", "plot_attention"),
    # the pictures of the classic networks (Hopfield recall, RBM filters, the SOM's map, ...)
    "view": ("cellgraph.views", "view"),
    # architecture search (Optuna, imported when a search runs)
    "search": ("cellgraph.search", None),  # a callable module: cellgraph.search(spec, ...)
}


def __getattr__(name: str) -> _Any:
    """``cellgraph.compile``, ``train``, ``evaluate``, ``save``, ``load``, ``load_run``, ``export``
    and the sampling functions import JAX, and ``render`` the drawing code, so they load on first use (a command
    that trains does not wait for the drawing code, nor one that draws for JAX)."""
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        loaded = importlib.import_module(module)
        return loaded if attribute is None else getattr(loaded, attribute)
    raise AttributeError(f"module 'cellgraph' has no attribute '{name}'")
