"""Delivery channels (Twilio SMS, SendGrid email, calendar invites, sandbox).

Not built yet: this package is the subject of issue 3. It depends on the
domain (``reminders``), never the reverse.
"""
