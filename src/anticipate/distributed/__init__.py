"""Scale-out on Dask: :mod:`.cluster` (client, partitions, data movement) and :mod:`.schedule`.

:mod:`.schedule` runs features, training and the forecast on a ``distributed``
cluster by scheduling the functions of :mod:`anticipate.features` and
:mod:`anticipate.models`; it defines no feature and fits no model by hand.
"""
