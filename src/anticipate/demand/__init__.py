"""Demand: the network (distances, nearest warehouse, move costs), the forecast per warehouse x SKU,
and the inputs of a plan (reference tables, the model's forecast at a cutoff, the allocation instance)."""
