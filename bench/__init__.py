"""Benchmarks: pykbroker against Apache Kafka on the same machine, one after the
other, with the same clients; ``python -m bench.run`` prints the ratios."""
