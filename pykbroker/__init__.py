"""pykbroker: a broker that speaks the Kafka protocol, for stock Kafka clients."""

__version__ = "0.1.0"
