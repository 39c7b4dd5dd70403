"""How a miner query ended: one name per kind of failure, shared by the transports (which set it),
the notices (whose ``detail`` starts with it) and the metrics (a label)."""

from __future__ import annotations

from enum import Enum


class QueryOutcome(str, Enum):
    """``OK``: a reply arrived in time (it may still fail to decode: ``DECODE_ERROR``, set by
    validation; its instructions may still be rejected one by one). The others are failures."""

    OK = "ok"
    TIMEOUT = "timeout"  # no complete reply within the query timeout
    REFUSED = "refused"  # no connection (refused, reset, unreachable, no endpoint published)
    HTTP_ERROR = "http_error"  # an HTTP status other than 200 (a redirect too: never followed)
    OVERSIZED = "oversized"  # a reply larger than the largest one the market allows
    DECODE_ERROR = "decode_error"  # a reply that did not decode (set by validation)
    AGENT_ERROR = "agent_error"  # an in-process agent raised or returned something unusable
    INTERNAL = "internal"  # the validator could not apply the reply (a bug of the validator's)


ANSWERED = frozenset(
    {QueryOutcome.OK, QueryOutcome.HTTP_ERROR, QueryOutcome.OVERSIZED, QueryOutcome.DECODE_ERROR}
)
"""Outcomes with a response from the miner, whose response time means something."""
