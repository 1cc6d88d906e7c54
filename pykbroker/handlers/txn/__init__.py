"""Handlers of the idempotent-producer and transaction APIs."""
