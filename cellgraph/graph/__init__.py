"""The graph layer: Spec + cell registry -> a validated, shape-checked networkx graph.

May import: ``cellgraph.errors``, ``cellgraph.options``, ``cellgraph.typedefs``,
``cellgraph.spec``, ``cellgraph.cells``, ``cellgraph.data.catalog`` and ``cellgraph.data.dataset``
(the label check of :mod:`.fit`).
"""

from .api import build_graph as build_graph
from .api import load_graph as load_graph
from .api import summarize as summarize
