"""The allocator of CONTRACTS section 4: instances, Numba kernels, a certified bound, HiGHS reference."""

from anticipate.allocation.instance import (
    Instance,
    generate_instance,
    instance_from_frames,
    read_instance,
    validate_instance,
)
from anticipate.allocation.plan import Plan, plan_summary, solve

__all__ = [
    "Instance",
    "Plan",
    "generate_instance",
    "instance_from_frames",
    "plan_summary",
    "read_instance",
    "solve",
    "validate_instance",
]
