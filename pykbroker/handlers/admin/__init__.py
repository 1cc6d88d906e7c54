"""Handlers of the admin APIs: topics, partitions and configs."""
