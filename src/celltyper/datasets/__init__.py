"""Real datasets bundled with celltyper, a simulator of count data and a simulated change of platform."""

from ._bundled import kang_ifnb, zheng_donor_a, zheng_sorted
from ._shift import shift_technology
from ._simulate import simulate

__all__ = ["kang_ifnb", "shift_technology", "simulate", "zheng_donor_a", "zheng_sorted"]
