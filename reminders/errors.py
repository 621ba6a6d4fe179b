"""The errors service calls raise.

Model construction (``Deadline(...)``, ``Citizen(...)``) raises pydantic's
``ValidationError``; everything the service raises descends from
:class:`ReminderError`::

    ReminderError
    ├── ConfigurationError      settings missing or inconsistent
    ├── InvalidRequest          input refused at the service boundary
    │   ├── DeadlinePassed      the due instant is not in the future
    │   ├── SnoozeTooLate       a snooze would land after the deadline
    │   └── AgencyNotRegistered a deadline for an agency nobody registered
    ├── NotFound
    │   ├── DeadlineNotFound    no deadline with that (agency, ref)
    │   └── ReminderNotFound    no reminder with that id
    ├── DeadlineClosed          the deadline was completed or cancelled
    ├── ConflictError           a write kept losing to concurrent writers
    ├── Unauthenticated         no API key or staff token, or a bad or revoked one
    ├── Forbidden               a key used on another agency's path (Client)
    ├── RateLimited             the agency's rate limit or quota is used up (Client)
    ├── ServiceError            the HTTP service failed or could not be reached (Client)
    └── Unavailable             Redis does not answer (the library's calls)

Messages name the field or setting at fault and never carry personal data.
"""

from __future__ import annotations


class ReminderError(Exception):
    """Root of every error raised by the reminders service."""


class ConfigurationError(ReminderError):
    """A setting is missing or inconsistent; the message names it."""


class InvalidRequest(ReminderError):
    """Input refused at the service boundary; ``field`` names the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class DeadlinePassed(InvalidRequest):
    """The due instant is already past (or too close to plan anything)."""


class SnoozeTooLate(InvalidRequest):
    """Snoozing by that much would land after the deadline; ``room_days`` is
    how many whole days a snooze may still take."""

    def __init__(self, field: str, message: str, room_days: int = 0) -> None:
        super().__init__(field, message)
        self.room_days = room_days


class NotFound(ReminderError):
    """The thing asked for does not exist."""


class DeadlineNotFound(NotFound):
    """No deadline is registered under that (agency, ref)."""

    def __init__(self, agency: str, ref: str) -> None:
        # The ref is the agency's own id and may hold personal data (an email
        # used as a case number): the message never repeats it.
        super().__init__(f"no deadline with that ref for agency {agency!r}")
        self.agency = agency
        self.ref = ref


class ReminderNotFound(NotFound):
    """No reminder has that id."""

    def __init__(self, reminder_id: str) -> None:
        super().__init__(f"no reminder {reminder_id!r}")
        self.reminder_id = reminder_id


class DeadlineClosed(ReminderError):
    """The deadline was completed or cancelled, so it cannot change."""

    def __init__(self, agency: str, ref: str, status: str) -> None:
        super().__init__(f"the deadline of agency {agency!r} with that ref is {status}")
        self.agency = agency
        self.ref = ref
        self.status = status


class ConflictError(ReminderError):
    """A write lost to concurrent writers more times than it retries."""


class Unauthenticated(ReminderError):
    """No credential, or a malformed, unknown or revoked one."""


class Forbidden(ReminderError):
    """An agency's key used on another agency's path."""


class RateLimited(ReminderError):
    """The agency's rate limit or daily quota is used up."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ServiceError(ReminderError):
    """The HTTP service failed (5xx), could not be reached, or answered
    something unexpected."""


class Unavailable(ReminderError):
    """Redis does not answer: nothing was done, or it is unknown whether a
    write landed (sending it again is safe: registrations are idempotent)."""
