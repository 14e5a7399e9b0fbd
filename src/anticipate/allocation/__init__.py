"""The allocator: instances, Numba kernels, a certified Lagrangian bound, HiGHS as reference and polish."""

from anticipate.allocation.instance import (
    CAPACITY_CAP,
    Instance,
    generate_instance,
    instance_from_frames,
    read_instance,
    validate_instance,
    write_instance,
)
from anticipate.allocation.plan import (
    GAP_TOLERANCE,
    Plan,
    SolveOptions,
    gap_warning,
    is_small_network,
    plan_summary,
    solve,
    solve_configured,
)

__all__ = [
    "CAPACITY_CAP",
    "GAP_TOLERANCE",
    "Instance",
    "Plan",
    "SolveOptions",
    "gap_warning",
    "generate_instance",
    "instance_from_frames",
    "is_small_network",
    "plan_summary",
    "read_instance",
    "solve",
    "solve_configured",
    "validate_instance",
    "write_instance",
]
