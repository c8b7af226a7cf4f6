"""Real datasets bundled with celltyper, and a simulator of count data."""

from ._bundled import kang_ifnb, zheng_sorted
from ._simulate import simulate

__all__ = ["kang_ifnb", "simulate", "zheng_sorted"]
