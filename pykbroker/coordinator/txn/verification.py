"""What partition leaders ask a transaction coordinator on another broker
before a transaction's first write to a partition: whether the producer
added the partition (KIP-890 part 1), or to add it (transactions V2), with
AddPartitionsToTxn v4 as Kafka's AddPartitionsToTxnManager does; and what a
producer is told of a refusal, as Kafka's ReplicaManager tells it
(``verification_error``)."""
from __future__ import annotations

from typing import Any

from ...cluster.peer_client import PeerError, PeerPool
from ...errors import ErrorCode, KafkaError

ADD_PARTITIONS_TO_TXN = 24
BROKER_VERSION = 4  # the first of the brokers' form, with VerifyOnly

# Verification outcomes a producer should simply retry: answered
# NOT_ENOUGH_REPLICAS, which every client retries without a metadata refresh.
_RETRIABLE = frozenset({ErrorCode.CONCURRENT_TRANSACTIONS, ErrorCode.NETWORK_EXCEPTION,
                        ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, ErrorCode.COORDINATOR_NOT_AVAILABLE,
                        ErrorCode.NOT_COORDINATOR})


def verification_error(code: int, produce_version: int) -> KafkaError | None:
    """What a producer is told when verification answered ``code`` (None: write)."""
    code = ErrorCode(code)
    if code == ErrorCode.NONE:
        return None
    if code == ErrorCode.CONCURRENT_TRANSACTIONS and produce_version >= 12:
        return KafkaError(code)   # a V2 producer retries it as it is
    if code == ErrorCode.TRANSACTION_ABORTABLE and produce_version < 11:
        code = ErrorCode.INVALID_TXN_STATE   # older producers do not know TRANSACTION_ABORTABLE
    if code == ErrorCode.INVALID_TXN_STATE:
        return KafkaError(code, "Partition was not added to the transaction")
    if code in _RETRIABLE:
        return KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, "Unable to verify the partition has been added to the "
                          f"transaction. Underlying error: {ErrorCode(code).name}")
    return KafkaError(code)


class RemoteCoordinator:
    """The transaction coordinators on other brokers, as partition leaders ask them."""

    def __init__(self, broker: Any):
        self._peers = PeerPool(broker, "txn-verification")

    async def ask(self, node_id: int, transactional_id: str, producer_id: int, producer_epoch: int,
                  partitions: list[tuple[str, int]], add: bool) -> dict[tuple[str, int], ErrorCode]:
        """Ask the coordinator on broker ``node_id`` to add ``partitions`` to
        the producer's ongoing transaction (``add``) or whether they are in
        it; its error code for each."""
        topics: dict[str, list[int]] = {}
        for topic, index in partitions:
            topics.setdefault(topic, []).append(index)
        transaction = {"transactional_id": transactional_id, "producer_id": producer_id,
                       "producer_epoch": producer_epoch, "verify_only": not add,
                       "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()]}
        codes = dict.fromkeys(partitions, ErrorCode.NONE)
        try:
            response = await self._peers.request(node_id, ADD_PARTITIONS_TO_TXN, BROKER_VERSION,
                                                 {"transactions": [transaction]})
        except PeerError:
            return dict.fromkeys(partitions, ErrorCode.NETWORK_EXCEPTION)
        if response["error_code"] != ErrorCode.NONE:
            # As Kafka: a refused broker is not the producer's business.
            code = response["error_code"]
            if code == ErrorCode.CLUSTER_AUTHORIZATION_FAILED:
                code = ErrorCode.INVALID_TXN_STATE
            codes = dict.fromkeys(partitions, code)
        for result in response["results_by_transaction"]:
            for topic in result["topic_results"]:
                for p in topic["results_by_partition"]:
                    if (topic["name"], p["partition_index"]) in codes:
                        codes[(topic["name"], p["partition_index"])] = p["partition_error_code"]
        return {tp: ErrorCode(code) for tp, code in codes.items()}

    def close(self) -> None:
        self._peers.close()
