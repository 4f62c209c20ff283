"""What every validator shares: the step and side limits, and the number checks."""

from __future__ import annotations

import math
import numbers
from typing import Any

from huatu.errors import ValidationError
from huatu.models.families import FAMILIES, Family

MIN_STEPS, MAX_STEPS = 1, 100
#: The largest side any family takes (SDXL's 1536); a model's own family may take less
#: (:attr:`huatu.models.families.Family.max_side`, checked by the service).
MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = 64, max(f.max_side for f in FAMILIES.values()), 8


def is_integral(value: Any) -> bool:
    """Whether ``value`` is a whole number (an int, or a finite float without a fraction);
    never a bool."""
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def check_integer(
    field: str, value: Any, low: int, high: int, *, reason: str = "integer_range"
) -> int:
    """``value`` as an int when it is a whole number from ``low`` to ``high``.

    Raises:
        ValidationError: naming ``field`` and the value.
    """
    if not is_integral(value) or not low <= int(value) <= high:
        raise ValidationError(field, value, reason, low=low, high=high)
    return int(value)


def check_number(field: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(field, value, "number_range", low=low, high=high)
    try:
        number = float(value)
    except OverflowError:  # a whole number too large for a float
        raise ValidationError(field, value, "number_range", low=low, high=high) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise ValidationError(field, value, "number_range", low=low, high=high)
    return number


def check_family_size(request: Any, found: Family | None) -> None:
    """Refuse a request (a :class:`~huatu.request.GenerationRequest`) larger than the model's
    family takes (the request's own validator allows the largest side of any family).

    Raises:
        ValidationError: ``width`` or ``height`` (the final size, after a hires fix or an
            outpaint) above ``found.max_side``, naming the family and its limit.
    """
    if found is None:
        return
    for name, side in zip(("width", "height"), request.output_size, strict=True):
        if side > found.max_side:
            value = getattr(request, name)
            raise ValidationError(
                name, value, "side_for_family", family=found.label, high=found.max_side, size=side
            )
