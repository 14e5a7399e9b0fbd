"""The backtest: replay the real orders after each cutoff against the model's plan and reference plans.

``replay`` (value of a plan when the orders arrive), ``realised`` (the horizon's lines),
``reference`` (zero, naive, truth and perfect-foresight plans), ``step`` (one cutoff over
in-memory frames), ``context`` (one cutoff of a data set and a model), ``cutoffs`` and
``report``.
"""

from anticipate.backtest.replay import Economics, ReplayResult, naive_demand, replay, value_captured

__all__ = ["Economics", "ReplayResult", "naive_demand", "replay", "value_captured"]
