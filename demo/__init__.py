"""``reminders demo``: the whole system on a realistic sample, in under a minute.

A composition root like the CLI: it wires the library, the workers and the
web app's report page together; nothing depends on it.
"""

from .run import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
