"""Architecture search: a spec's params as the space, Optuna's samplers, cellgraph's training.

* ``space``     the dimensions: ``--grid``/``--random`` options and the spec's ``search:`` block
* ``variants``  one point -> a validated graph, or its located problems (no JAX)
* ``runner``    a list of variants -> their outcomes (trained with ``cellgraph.train``)
* ``settings``  arguments + the ``search:`` block + defaults, resolved; the study's fingerprint
* ``study``     the Optuna study in a journal file: sampling, resume, the trial loop
* ``report``    the table (CSV, Markdown), the plots, the best spec, the contact sheet
* ``ray_backend`` ``backend="ray"``: Ray Tune runs the trials (Optuna's sampler inside it); Ray imported there only

May import: ``cellgraph.errors``, ``cellgraph.spec``, ``cellgraph.graph``, ``cellgraph.data``,
``cellgraph.train``, ``cellgraph.render``. Nothing below imports it. Optuna, JAX and Matplotlib are
imported only when a search runs. Like ``cellgraph.train``, the package is also the function:
``cellgraph.search("net.yaml", grid={"width": [16, 64]})`` calls :func:`.study.search`.
"""

import sys as _sys
import types as _types
from typing import Any as _Any

from .records import SearchResult as SearchResult
from .records import Trial as Trial
from .runner import Outcome as Outcome
from .runner import RunPlan as RunPlan
from .runner import train_variants as train_variants
from .space import Dimension as Dimension
from .space import SearchError as SearchError
from .space import Space as Space
from .study import search as search
from .variants import Variant as Variant

__all__ = [
    "Dimension",
    "Outcome",
    "RunPlan",
    "SearchError",
    "SearchResult",
    "Space",
    "Trial",
    "Variant",
    "search",
    "train_variants",
]


class _CallableModule(_types.ModuleType):
    def __call__(self, *args: _Any, **kwargs: _Any) -> SearchResult:
        return search(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
