"""Handlers that move records: Produce, Fetch, ListOffsets, DeleteRecords, OffsetForLeaderEpoch."""
