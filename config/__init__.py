"""Settings and policy files: what an operator configures."""

from .policies import load_policies
from .settings import Settings

__all__ = ["Settings", "load_policies"]
