"""Built-in data sets: files that ship with cellgraph and generators for toy tasks.

``catalog`` describes every source (name, options, task) as plain data, so a spec's ``data:``
block is validated without importing NumPy or JAX; the loaders arrive with the compiler.
May import: ``cellgraph.errors``, ``cellgraph.options``.
"""
