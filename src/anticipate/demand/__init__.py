"""Demand: the network (distances, nearest warehouse, move costs), the forecast per warehouse x SKU,
the inputs of a plan (reference tables, the model's forecast at a cutoff, the allocation instance),
the checks a plan passes before it is published and the planner's plan table."""
