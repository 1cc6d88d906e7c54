"""The Kafka wire format: message codec (``codec``) and record batches (``records``).

Sans-IO and independent of the broker: nothing here imports ``pykbroker``.
"""
