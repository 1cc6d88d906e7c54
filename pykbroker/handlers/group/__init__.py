"""Handlers of the group coordinator APIs."""
