"""Deadline reminders: the library API agency systems call.

import reminders
svc = reminders.connect()
receipt = svc.register(reminders.Deadline(...))
"""

from .clock import Clock, ManualClock, SystemClock
from .coverage import CoverageReport
from .errors import (
    ConfigurationError,
    ConflictError,
    DeadlineClosed,
    DeadlineNotFound,
    DeadlinePassed,
    InvalidRequest,
    NotFound,
    ReminderError,
    ReminderNotFound,
    SnoozeTooLate,
)
from .models import Citizen, Deadline
from .policy import Policy, PolicyBook
from .service import ReminderService
from .views import DeadlineView, ItemResult, Receipt, ReminderView
from .wiring import connect

__all__ = [
    "Citizen",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "CoverageReport",
    "Deadline",
    "DeadlineClosed",
    "DeadlineNotFound",
    "DeadlinePassed",
    "DeadlineView",
    "InvalidRequest",
    "ItemResult",
    "ManualClock",
    "NotFound",
    "Policy",
    "PolicyBook",
    "Receipt",
    "ReminderError",
    "ReminderNotFound",
    "ReminderService",
    "ReminderView",
    "SnoozeTooLate",
    "SystemClock",
    "connect",
]
