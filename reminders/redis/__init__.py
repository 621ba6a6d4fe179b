"""Redis: the store of deadline documents, the key layout, the schedule and
its leases, once-only claims, and the Lua scripts (``lua/*.lua``) with their
one loader."""
