"""Handlers of the idempotent-producer and transaction APIs."""
from ...errors import ErrorCode


def for_version(code: int, version: int, fenced_since: int, abortable_since: int) -> int:
    """An error code as a client of ``version`` knows it: PRODUCER_FENCED was
    INVALID_PRODUCER_EPOCH before ``fenced_since``, TRANSACTION_ABORTABLE
    (KIP-890) INVALID_TXN_STATE before ``abortable_since``."""
    if code == ErrorCode.PRODUCER_FENCED and version < fenced_since:
        return ErrorCode.INVALID_PRODUCER_EPOCH
    if code == ErrorCode.TRANSACTION_ABORTABLE and version < abortable_since:
        return ErrorCode.INVALID_TXN_STATE
    return code
