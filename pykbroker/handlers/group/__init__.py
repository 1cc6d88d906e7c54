"""Handlers of the group coordinator APIs."""


def client_host(ctx) -> str:
    """The member's host as Kafka reports it (InetAddress.toString): "/ip"."""
    return "/" + ctx.peer.rsplit(":", 1)[0]
