"""Coordinators backed by internal topics: the shared runtime (``runtime``),
the group coordinator (``group_coordinator`` and the modules it names) and
the transaction coordinator (``txn``)."""
