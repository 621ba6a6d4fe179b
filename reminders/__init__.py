"""Deadline reminders: the library API agency systems call.

import reminders
svc = reminders.connect()
receipt = svc.register(reminders.Deadline(...))
"""

from .agencies import Agency, AgencyNotRegistered
from .client import Client
from .clock import Clock, ManualClock, SystemClock
from .coverage import CoverageReport
from .errors import (
    ConfigurationError,
    ConflictError,
    DeadlineClosed,
    DeadlineNotFound,
    DeadlinePassed,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ReminderError,
    ReminderNotFound,
    ServiceError,
    SnoozeTooLate,
    Unauthenticated,
    Unavailable,
)
from .models import Citizen, Deadline
from .policy import Policy, PolicyBook
from .service import ReminderService
from .views import DeadlineView, ItemResult, Receipt, ReminderView
from .wiring import connect

__all__ = [
    "Agency",
    "AgencyNotRegistered",
    "Citizen",
    "Client",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "CoverageReport",
    "Deadline",
    "DeadlineClosed",
    "DeadlineNotFound",
    "DeadlinePassed",
    "DeadlineView",
    "Forbidden",
    "InvalidRequest",
    "ItemResult",
    "ManualClock",
    "NotFound",
    "Policy",
    "PolicyBook",
    "RateLimited",
    "Receipt",
    "ReminderError",
    "ReminderNotFound",
    "ReminderService",
    "ReminderView",
    "ServiceError",
    "SnoozeTooLate",
    "SystemClock",
    "Unauthenticated",
    "Unavailable",
    "connect",
]
