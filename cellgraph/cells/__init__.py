"""The cell registry: the chart's cell types, each defined once.

Importing this package registers every family module (one file per colour family), so
``CELLS`` is complete; the rest of cellgraph asks a type's capabilities (``role``,
``recurrence``, ...), never its name. May import: ``cellgraph.typedefs``, ``cellgraph.options``.
"""

from . import conv as conv
from . import hidden as hidden
from . import inputs as inputs
from . import outputs as outputs
from . import recurrent as recurrent
from .registry import CELLS as CELLS
from .registry import ROLES as ROLES
from .registry import CellType as CellType
from .registry import Recurrence as Recurrence
from .registry import ShapeError as ShapeError
from .registry import ShapeIn as ShapeIn
from .registry import get_cell as get_cell
from .registry import register_cell as register_cell
