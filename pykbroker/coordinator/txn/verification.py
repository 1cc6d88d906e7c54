"""Verification of a transaction's first write to a partition (KIP-890
part 1), when the transaction coordinator is another broker: the leader
asks it with AddPartitionsToTxn v4 (VerifyOnly), as Kafka's
AddPartitionsToTxnManager does, and answers the producer as Kafka's
ReplicaManager does (``verification_error``)."""
from __future__ import annotations

from typing import Any

from ...cluster.peer_client import PeerError, PeerPool
from ...errors import ErrorCode, KafkaError

ADD_PARTITIONS_TO_TXN = 24
BROKER_VERSION = 4  # the first with VerifyOnly

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
    if code == ErrorCode.PRODUCER_FENCED:
        code = ErrorCode.INVALID_PRODUCER_EPOCH
    elif code == ErrorCode.TRANSACTION_ABORTABLE and produce_version < 11:
        code = ErrorCode.INVALID_TXN_STATE   # older producers do not know TRANSACTION_ABORTABLE
    if code == ErrorCode.INVALID_TXN_STATE:
        return KafkaError(code, "Partition was not added to the transaction")
    if code in _RETRIABLE:
        return KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, "Unable to verify the partition has been added to the "
                          f"transaction. Underlying error: {ErrorCode(code).name}")
    return KafkaError(code)


class RemoteVerifier:
    def __init__(self, broker: Any):
        self._peers = PeerPool(broker, "txn-verification")

    async def verify(self, node_id: int, transactional_id: str, producer_id: int, producer_epoch: int,
                     partitions: list[tuple[str, int]], produce_version: int) -> dict[tuple[str, int], KafkaError | None]:
        """Ask the coordinator on broker ``node_id`` whether ``partitions`` are
        in the producer's ongoing transaction; the error for each, or None."""
        topics: dict[str, list[int]] = {}
        for topic, index in partitions:
            topics.setdefault(topic, []).append(index)
        transaction = {"transactional_id": transactional_id, "producer_id": producer_id,
                       "producer_epoch": producer_epoch, "verify_only": True,
                       "topics": [{"name": t, "partitions": ps} for t, ps in topics.items()]}
        codes = dict.fromkeys(partitions, ErrorCode.NONE)
        try:
            response = await self._peers.request(node_id, ADD_PARTITIONS_TO_TXN, BROKER_VERSION,
                                                 {"transactions": [transaction]})
        except PeerError:
            codes = dict.fromkeys(partitions, ErrorCode.NETWORK_EXCEPTION)
        else:
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
        return {tp: verification_error(code, produce_version) for tp, code in codes.items()}

    def close(self) -> None:
        self._peers.close()
