"""Demand for the plan: what each warehouse should expect, and the checks a plan passes before publishing."""
