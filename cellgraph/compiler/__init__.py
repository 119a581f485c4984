"""The compiler: a checked graph -> pure JAX functions (init, apply, loss).

May import: everything below it (errors, options, spec, cells, data, graph). Imports JAX.
"""

from .model import Model as Model
from .model import compile as compile  # the public spelling is cellgraph.compile
from .model import compile_graph as compile_graph
from .protocol import CompileError as CompileError
