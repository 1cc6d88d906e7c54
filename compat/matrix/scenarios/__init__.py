"""Every scenario, registered on import; the table lists clients in this order."""
from . import java_samples, kafka_cli, client_programs, kcat, streams, flink, burrow  # noqa: F401
