"""The spec layer: YAML text -> a typed, located :class:`~cellgraph.spec.model.Spec`.

It knows the format (keys, params, repeat, composition, edge statements) but nothing about
cell types, learning rules or data sets: those are checked one layer up, in ``graph``.
May import: ``cellgraph.errors``, ``cellgraph.typedefs``.
"""
