"""The feature engine: point-in-time features of (customer, item) pairs at a cutoff.

``spec`` (family and column names, the frozen FeatureSpec), ``history`` (the lines
before the cutoff as codes), ``sequences`` (customer and pair statistics),
``partials`` (additive per-partition partials), ``join`` (the table from them), ``build`` (the local
table, labels, training sets), ``renewal``, ``_kernels`` and the pandas ``reference``.
"""
