"""Many slow clients: ``connections`` connections, each producing one small
batch (acks=1) and then fetching it back on the same connection, once per
``interval`` seconds, spread over the partitions of an existing topic, for
``seconds``. Prints one JSON line: request latencies (ms) and the rate.

    python -m bench.many_clients 127.0.0.1:9092 topic 6 200 30 1.0
"""
from __future__ import annotations

import asyncio
import json
import random
import struct
import sys
import time

from wire import codec

from .protocol import FETCH, FETCH_VERSION, PRODUCE, PRODUCE_VERSION, batch, fetch_body, produce_body

RECORD = b"x" * 100
RECORDS_PER_BATCH = 10
_SIZE = struct.Struct(">i")


class Stats:
    def __init__(self):
        self.produce_ms: list[float] = []
        self.fetch_ms: list[float] = []
        self.errors = 0


async def client(number: int, host: str, port: int, topic: str, partitions: int, deadline: float,
                 interval: float, stats: Stats) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    correlation_id = 0
    partition = number % partitions

    async def request(api_key: int, version: int, body: dict) -> dict:
        nonlocal correlation_id
        correlation_id += 1
        writer.write(codec.encode_request(api_key, version, correlation_id, f"slow-{number}", body))
        (size,) = _SIZE.unpack(await reader.readexactly(4))
        return codec.decode_response(api_key, version, await reader.readexactly(size))[1]

    await asyncio.sleep(random.random() * interval)  # spread the connections over the interval
    try:
        while time.monotonic() < deadline:
            tick = time.monotonic()
            response = await request(PRODUCE, PRODUCE_VERSION,
                                     produce_body(topic, partition, batch(RECORD, RECORDS_PER_BATCH)))
            produced = time.monotonic()
            result = response["responses"][0]["partition_responses"][0]
            if result["error_code"]:
                stats.errors += 1
            else:
                stats.produce_ms.append((produced - tick) * 1000)
                response = await request(FETCH, FETCH_VERSION,
                                         fetch_body(topic, partition, result["base_offset"], max_wait_ms=500))
                fetched = response["responses"][0]["partitions"][0]
                if fetched["error_code"] or not fetched["records"]:
                    stats.errors += 1
                else:
                    stats.fetch_ms.append((time.monotonic() - produced) * 1000)
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))
    finally:
        writer.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


async def run(bootstrap: str, topic: str, partitions: int, connections: int, seconds: float,
              interval: float) -> dict:
    host, port = bootstrap.rsplit(":", 1)
    stats = Stats()
    started = time.monotonic()
    await asyncio.gather(*(client(n, host, int(port), topic, partitions, started + seconds, interval, stats)
                           for n in range(connections)))
    elapsed = time.monotonic() - started
    return {"produce_p50_ms": percentile(stats.produce_ms, 0.5), "produce_p99_ms": percentile(stats.produce_ms, 0.99),
            "fetch_p50_ms": percentile(stats.fetch_ms, 0.5), "fetch_p99_ms": percentile(stats.fetch_ms, 0.99),
            "round_trips_per_sec": len(stats.fetch_ms) / elapsed, "errors": stats.errors}


def main() -> None:
    bootstrap, topic, partitions, connections, seconds, interval = sys.argv[1:7]
    print(json.dumps(asyncio.run(run(bootstrap, topic, int(partitions), int(connections), float(seconds),
                                     float(interval)))))


if __name__ == "__main__":
    main()
