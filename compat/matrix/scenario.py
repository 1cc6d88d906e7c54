"""Clients, scenarios and the registry the matrix runs from.

A scenario is a function of a Context that returns on success and raises
(Failed, AssertionError, TimeoutError...) with a message that says what a
user of that client would have seen go wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .context import Context


class Failed(Exception):
    """A scenario's check did not hold; the message is the cell's reason."""


@dataclass(frozen=True)
class Client:
    name: str                       # the id prefix, e.g. "franz-go"
    title: str                      # what the table calls it
    version: Callable[[], str]      # read from the build files / the installed package
    # Extra per-language setup (a build), run once before its first scenario.
    prepare: Callable[[], None] = field(default=lambda: None)


@dataclass(frozen=True)
class Scenario:
    client: Client
    name: str
    description: str
    function: Callable[["Context"], None]
    core: bool = False              # part of the fast core that CI runs
    timeout: float = 180            # the whole scenario, setup included
    # The newest Apache Kafka the client still works with, where that is older
    # than the default: the reference run (--target kafka) uses that version.
    kafka_version: str | None = None

    @property
    def id(self) -> str:
        return f"{self.client.name}/{self.name}"


SCENARIOS: dict[str, Scenario] = {}
CLIENTS: dict[str, Client] = {}


def scenario(client: Client, name: str, description: str, core: bool = False,
             timeout: float = 180, kafka_version: str | None = None) -> Callable[[Callable], Callable]:
    """Register the decorated function as scenario ``client.name/name``."""
    def register(function: Callable[["Context"], None]) -> Callable[["Context"], None]:
        entry = Scenario(client, name, description, function, core, timeout, kafka_version)
        if entry.id in SCENARIOS:
            raise ValueError(f"scenario {entry.id} registered twice")
        CLIENTS.setdefault(client.name, client)
        SCENARIOS[entry.id] = entry
        return function
    return register


def expect(condition: object, message: str) -> None:
    if not condition:
        raise Failed(message)
