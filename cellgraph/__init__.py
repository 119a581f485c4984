"""cellgraph: neural networks as graphs of the Neural Network Zoo's typed cells.

One YAML spec becomes a validated graph (this package's ``spec`` and ``graph`` layers), and —
in later layers — jit-compiled JAX functions and chart-style diagrams. Importing cellgraph
never imports JAX.
"""

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
    "SourceLoc",
    "Spec",
    "SpecError",
    "build_graph",
    "load_graph",
    "load_spec",
    "load_spec_text",
    "summarize",
]
