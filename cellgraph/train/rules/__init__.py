"""The classic learning rules, one module each, as pure jitted updates over a compiled Model.

Backpropagation with an optax optimizer is the training loop itself (``train/loop.py``); these
are the networks' own rules from the chart's papers.
"""
