"""The compatibility matrix: stock Kafka clients x scenarios, run against
pykbroker or Apache Kafka, written up in docs/compatibility.md.

    python -m compat.matrix [--target pykbroker|kafka] [--only PATTERN ...] [--core]

Each scenario (``client/name``, see ``scenarios``) gets its own topics and
groups, so any subset can be rerun alone; results merge into
compat/matrix/results/<target>.json and the docs are regenerated from both
targets' results.
"""
