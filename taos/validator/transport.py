"""How the validator reaches its miners: one call per publish interval that sends every miner its
encoded state and returns each answer with its response time.

- ``HttpTransport``: signed HTTP POSTs to the miners' published endpoints (``taos.validator.client``),
  concurrently, with a timeout: the subnet's path.
- ``InProcessTransport``: agents in this process (offline research and tests). The state still goes
  through the wire encoding, so an in-process agent sees exactly what a remote one would (the books
  all states of a step share are encoded and decoded once); the response time is the agent's own
  wall time. An agent's exception is logged once with its traceback, its repeats counted and
  reported in one line a minute and when the transport closes (``taos.logs.RepeatedErrors``).

Either way, a miner's failure (timeout, refused connection, error status, oversized reply, exception
in its agent) is an ``Answer`` with ``error`` and its kind ``outcome`` set, never an exception in the
loop. A reply is never larger than ``max_reply_bytes`` of the market (``taos.protocol.limits``).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from taos.agents import Agent
from taos.chain import hotkey_signer
from taos.logs import RepeatedErrors
from taos.protocol import ProtocolError, StateDecoder, StateRequest, encode_reply, max_reply_bytes
from taos.protocol.compression import IDENTITY, ZSTD
from taos.validator.outcome import QueryOutcome

log = logging.getLogger("taos.validator")


@dataclass(frozen=True)
class Answer:
    """A miner's reply body, or why there is none: ``error`` (our words, never the peer's) and its
    kind ``outcome``."""

    body: bytes
    response_time_s: float
    error: str | None = None
    outcome: QueryOutcome = QueryOutcome.OK

    def __post_init__(self) -> None:
        if (self.error is None) != (self.outcome is QueryOutcome.OK):
            raise ValueError(f"an answer has an error exactly when its outcome is not ok: {self!r}")


def reply_cap(request: StateRequest) -> int:
    """The largest reply the market of ``request`` allows."""
    info = request.simulation
    return max_reply_bytes(info.books, info.max_instructions_per_book)


class Transport(ABC):
    @abstractmethod
    async def query(self, requests: Mapping[int, StateRequest], timeout_s: float) -> dict[int, Answer]:
        """Sends each uid its request; answers for every uid in ``requests``."""

    @abstractmethod
    def serves(self, uid: int) -> bool:
        """Whether ``uid`` can be queried (an agent or an endpoint is known for it)."""

    def follow(self, metagraph: Any) -> None:  # noqa: B027 - in-process agents need no addresses
        """Takes the miners' endpoints and hotkeys from a new metagraph snapshot."""

    async def close(self) -> None:  # noqa: B027 - nothing to release by default
        pass


class InProcessTransport(Transport):
    """``validator`` names this validator to the agents (``Agent.validator``) that have no name yet."""

    def __init__(
        self,
        agents: Mapping[int, Agent],
        *,
        validator: str = "local",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: the wall clock of the summary of repeated agent errors."""
        self.agents = dict(agents)
        self.errors = RepeatedErrors(log, "agent", clock=clock)
        self._decoder = StateDecoder()  # the books shared by one step's states are decoded once
        self.agent_s = 0.0
        self.codec_s = 0.0
        for agent in self.agents.values():
            if agent.validator is None:
                agent.validator = validator

    def serves(self, uid: int) -> bool:
        return uid in self.agents

    async def query(self, requests: Mapping[int, StateRequest], timeout_s: float) -> dict[int, Answer]:
        """Each agent's answer. A state goes through the wire encoding: the miner's own part is encoded
        and decoded for each agent, the step's shared books decoded once for all of them
        (``StateDecoder.decode_parts``). The response time is the agent's own (``handle``) plus the
        reply's encoding. ``agent_s`` and ``codec_s`` add up the agents' time and the
        encoding/decoding time."""
        out: dict[int, Answer] = {}
        for uid, request in requests.items():
            agent = self.agents.get(uid)
            if agent is None:
                out[uid] = Answer(b"", 0.0, f"no agent for uid {uid}", QueryOutcome.REFUSED)
                continue
            t0 = time.perf_counter()
            try:
                # the books were packed in this process: their record checks guard remote miners
                state = self._decoder.decode_parts(request.shared, request.own(), check_books=False)
            except ProtocolError as e:  # the validator's own encoding: a bug, reported per miner
                out[uid] = Answer(b"", 0.0, f"bad state: {e}", QueryOutcome.INTERNAL)
                continue
            start = time.perf_counter()
            try:
                instructions = agent.handle(state)
                handled = time.perf_counter()
                reply = encode_reply(instructions, agent.book_events)
            except ProtocolError as e:
                out[uid] = Answer(
                    b"", time.perf_counter() - start, f"bad reply: {e}", QueryOutcome.AGENT_ERROR
                )
                self.errors.add_exception(e, f"agent of uid {uid}")
                continue
            except Exception as e:  # an agent's bug is the miner's failure, not the validator's
                self.errors.add_exception(e, f"agent of uid {uid}")
                out[uid] = Answer(
                    b"",
                    time.perf_counter() - start,
                    f"agent raised {type(e).__name__}: {e}",
                    QueryOutcome.AGENT_ERROR,
                )
                continue
            end = time.perf_counter()
            self.agent_s += handled - start
            self.codec_s += (start - t0) + (end - handled)
            elapsed = end - start
            if elapsed >= timeout_s:
                out[uid] = Answer(b"", elapsed, f"no answer within {timeout_s:g} s", QueryOutcome.TIMEOUT)
            elif len(reply) > reply_cap(request):
                out[uid] = Answer(
                    b"", elapsed, f"reply larger than {reply_cap(request)} bytes", QueryOutcome.OVERSIZED
                )
            else:
                out[uid] = Answer(reply, elapsed)
        self.errors.report_if_due()
        return out

    async def close(self) -> None:
        self.errors.report()  # the repeats since the last summary


def endpoint_problem(endpoint: str, *, allow_private: bool = False) -> str | None:
    """Why the validator must not send a state to ``endpoint`` ("ip:port", as published on chain),
    or None. Only IP literals are queried (a name could resolve anywhere, and again differently),
    and, unless ``allow_private``, only globally routable addresses: a miner that publishes a
    loopback, private, link-local or reserved address would otherwise make the validator POST
    signed states to services inside its own network."""
    host, sep, port = endpoint.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65_535:
        return f"{endpoint!r} is not ip:port"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"{endpoint!r} does not name an IP address"
    if not allow_private and not address.is_global:
        return f"{endpoint} is not a public address"
    return None


class HttpTransport(Transport):
    """Signed POSTs to ``endpoints[uid]`` ("host:port") for the miner hotkeys ``hotkeys[uid]``.
    Endpoints that ``endpoint_problem`` refuses are not queried (``allow_private`` lets loopback and
    private addresses through: offline markets and test networks)."""

    def __init__(
        self,
        wallet: Any,
        endpoints: Mapping[int, str],
        hotkeys: Mapping[int, str],
        *,
        allow_private: bool = False,
    ) -> None:
        self.wallet = wallet
        self._signer: Any = None  # the wallet's hotkey, read once at the first query
        self.allow_private = allow_private
        self.endpoints: dict[int, str] = {}
        self.hotkeys = dict(hotkeys)
        self._refused: dict[int, str] = {}  # uid -> the endpoint refused and logged
        self._take(endpoints)
        self._session: Any = None
        self.zstd: set[int] = set()  # uids whose last answer said they take zstd state bodies

    def serves(self, uid: int) -> bool:
        return bool(self.endpoints.get(uid)) and uid in self.hotkeys

    def _take(self, endpoints: Mapping[int, str]) -> None:
        self.endpoints = {}
        for uid, endpoint in endpoints.items():
            problem = endpoint_problem(endpoint, allow_private=self.allow_private)
            if problem is None:
                self.endpoints[uid] = endpoint
                self._refused.pop(uid, None)
            elif self._refused.get(uid) != endpoint:
                self._refused[uid] = endpoint
                log.warning("uid %d is not queried: its published endpoint %s", uid, problem)

    async def query(self, requests: Mapping[int, StateRequest], timeout_s: float) -> dict[int, Answer]:
        from taos.validator.client import Target, new_session, query_all

        if self._session is None:
            self._session = new_session()
        if self._signer is None:
            self._signer = hotkey_signer(self.wallet)
        out: dict[int, Answer] = {}
        reachable = [uid for uid in requests if self.endpoints.get(uid) and self.hotkeys.get(uid)]
        for uid in requests:
            if uid not in reachable:
                out[uid] = Answer(b"", 0.0, f"uid {uid} serves no endpoint", QueryOutcome.REFUSED)
        if not reachable:
            return out
        caps = {reply_cap(requests[u]) for u in reachable}
        targets = []
        for u in reachable:
            coding = ZSTD if u in self.zstd else IDENTITY
            targets.append((Target(self.endpoints[u], self.hotkeys[u]), requests[u].body(coding), coding))
        results = await query_all(
            self._session, self._signer, targets, timeout_s=timeout_s, max_reply_bytes=max(caps)
        )
        for uid, r in zip(reachable, results, strict=True):
            out[uid] = Answer(r.body, r.elapsed_s, r.error, r.outcome)
            if r.status is not None:  # the miner answered: follow what it said it takes
                if r.accepts_zstd:
                    self.zstd.add(uid)
                else:
                    self.zstd.discard(uid)
        return out

    def follow(self, metagraph: Any) -> None:
        self._take({n.uid: n.endpoint for n in metagraph.neurons if n.endpoint})
        hotkeys = {n.uid: n.hotkey for n in metagraph.neurons}
        # a new hotkey or endpoint on a uid is another miner: its first state is not compressed
        self.zstd = {u for u in self.zstd if hotkeys.get(u) == self.hotkeys.get(u) and u in self.endpoints}
        self.hotkeys = hotkeys

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
