"""Handlers of the ACL, delegation-token and SASL APIs, answered as Kafka
answers them with its defaults: no authorizer, PLAINTEXT listeners only, so
every client is the anonymous principal (config refuses anything else)."""

PRINCIPAL_TYPE, PRINCIPAL_NAME = "User", "ANONYMOUS"
