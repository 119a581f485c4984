"""Rendering: a checked graph -> Asimov-style diagrams (Graphviz), gallery and poster.

May import: ``cellgraph.errors``, ``cellgraph.cells``, ``cellgraph.spec``, ``cellgraph.graph``.
Never imports the compiler or training code, nor JAX.
"""

from .api import Rendering as Rendering
from .api import render as render
from .output import RenderError as RenderError
