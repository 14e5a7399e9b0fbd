"""Figures, returned (never saved or logged here): model, plan, backtest and comparison plots."""
