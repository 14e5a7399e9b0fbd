"""The allocator's Numba kernels through their public wrappers (``jit=False`` runs the plain twin).

Callers outside the kernel modules (the solver, tests, benchmarks) use these names
rather than the compiled ``_name_jit`` objects, so a kernel's signature and its twin
stay in one place. Layout of the arrays: :mod:`._kernels`.
"""

from anticipate.allocation._dual import cold_response, warm_response
from anticipate.allocation._heap import heap_pop, heap_pop_py, heap_push, heap_push_py
from anticipate.allocation._kernels import group, plan_value, unit_values
from anticipate.allocation._newton import GUESS_BINS, GUESS_RANGE, curvature, density, price_guess
from anticipate.allocation._primal import DEFER_MIN, ROOM, repair_fill, swap_pass

__all__ = [
    "DEFER_MIN",
    "GUESS_BINS",
    "GUESS_RANGE",
    "ROOM",
    "cold_response",
    "curvature",
    "density",
    "group",
    "heap_pop",
    "heap_pop_py",
    "heap_push",
    "heap_push_py",
    "plan_value",
    "price_guess",
    "repair_fill",
    "swap_pass",
    "unit_values",
    "warm_response",
]
