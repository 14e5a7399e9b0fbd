"""anticipate: an open engine for anticipatory shipping.

Predict which customers will order which items within a horizon, turn those
probabilities into warehouse x SKU demand distributions, pre-position central
stock into warehouses under capacity and supply limits, and replay real orders
to measure the value captured.
"""

__version__ = "0.1.0"
