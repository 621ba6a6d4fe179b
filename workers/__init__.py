"""Scheduler and Dramatiq workers that release and send due reminders.

Not built yet: this package is the subject of issue 4. It depends on the
domain (``reminders``), never the reverse.
"""
