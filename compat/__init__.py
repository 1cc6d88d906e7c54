"""Harnesses that run the real Apache Kafka and stock clients beside pykbroker,
so tests can compare what a client sees from each."""
