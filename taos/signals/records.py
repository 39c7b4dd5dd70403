"""The signal bridge's formats: the request body, the secrets file, the signal file, and the
``client_order_id`` of a signal.

Request body (``POST /api/receive-signal``), a JSON object with exactly these fields::

    {"api_key": "...", "book_id": 0, "order_type": "LONG", "leverage": 2.0}

``order_type`` is ``LONG``, ``SHORT`` or ``FLAT`` (upper case). ``leverage`` is a finite number
> 0 for LONG and SHORT; FLAT (back to the starting inventory) has no leverage: it may be omitted
or be any finite number >= 0, and is recorded as 0.

Secrets file (``miner_secrets.json``)::

    {"api_key": "a long random text"}

Signal file (``received_signals/<uuid>.json``, written by the server)::

    {"uuid": "...", "received_at": 1717000000.25, "book_id": 0, "order_type": "LONG",
     "leverage": 2.0}

``received_at`` is wall time in Unix seconds. The miner's signal store adds its tracking fields
to the same file (see ``taos.signals.store``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORDER_TYPES = ("LONG", "SHORT", "FLAT")
REQUEST_FIELDS = ("api_key", "book_id", "order_type", "leverage")
SIGNAL_FIELDS = ("uuid", "received_at", "book_id", "order_type", "leverage")
MAX_BOOK_ID = 2**63 - 1
EXAMPLE_API_KEY = "REPLACE-WITH-A-LONG-RANDOM-KEY"
"""The placeholder of ``miner_secrets.json.example``; the server refuses to start with it."""


class SignalError(ValueError):
    """A request body, secrets file or signal file is not acceptable; the message says why."""


@dataclass(frozen=True)
class Signal:
    uuid: str
    received_at: float
    book_id: int
    order_type: str
    leverage: float

    @property
    def client_order_id(self) -> int:
        return client_order_id(self.uuid)

    @property
    def order(self) -> tuple[float, str]:
        """Signals are sent in this order (reception time, then uuid)."""
        return (self.received_at, self.uuid)

    def to_json(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "received_at": self.received_at,
            "book_id": self.book_id,
            "order_type": self.order_type,
            "leverage": self.leverage,
        }


def client_order_id(signal_uuid: str) -> int:
    """A stable 63-bit id of a signal: the first 8 bytes of SHA-256 of its uuid text, shifted right
    by one. Every validator, and every send after a restart, sees the same id for a signal."""
    digest = hashlib.sha256(signal_uuid.encode("ascii")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


MAX_JSON_DEPTH = 16
"""Nesting of arrays and objects in a request, secrets or signal file (they need 4 at most)."""
MAX_INT_DIGITS = 40
"""Digits of a JSON integer (a book id has at most 19)."""
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[{]|[\]}]', re.DOTALL)


def loads_object(text: str, what: str) -> dict[str, Any]:
    """``text`` as a JSON object; ``SignalError`` for bad JSON, another type, a repeated key,
    nesting deeper than ``MAX_JSON_DEPTH`` (checked before parsing: the parser is recursive) or an
    integer of more than ``MAX_INT_DIGITS`` digits (checked before it is converted)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise SignalError(f"{what}: field {key if key.isidentifier() else short(key)} is given twice")
            out[key] = value
        return out

    def integer(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_INT_DIGITS:
            raise SignalError(
                f"{what}: an integer of {len(digits.lstrip('-')):,} digits; at most {MAX_INT_DIGITS}"
            )
        return int(digits)

    depth = 0
    for token in _BRACKETS.finditer(text):  # strings are matched whole, so their brackets do not count
        c = token.group()
        if c == "[" or c == "{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise SignalError(f"{what}: arrays and objects nested deeper than {MAX_JSON_DEPTH} levels")
        elif c == "]" or c == "}":
            depth -= 1
    try:
        doc = json.loads(text, object_pairs_hook=pairs, parse_int=integer)
    except json.JSONDecodeError as e:
        raise SignalError(f"{what} is not JSON: {e}") from None
    except RecursionError:  # not reached after the depth check; kept as a last guard
        raise SignalError(f"{what}: arrays and objects nested too deeply") from None
    if not isinstance(doc, dict):
        raise SignalError(f"{what} must be a JSON object, got {_json_type(doc)}")
    return doc


def short(value: object, limit: int = 60) -> str:
    """``repr(value)`` for a message: one line, at most ``limit`` characters."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**100:
        text = f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1:,} digits"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_text(value: str) -> bool:
    """Whether ``value`` is valid Unicode text: JSON may carry lone surrogates (``"\\ud800"``),
    which no UTF-8 file or key can hold."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return type(value).__name__


def check_request(doc: dict[str, Any]) -> tuple[int, str, float]:
    """``(book_id, order_type, leverage)`` of a request body already known to be an object with a
    valid ``api_key``; ``SignalError`` naming the first problem."""
    unknown = sorted(set(doc) - set(REQUEST_FIELDS))
    if unknown:
        raise SignalError(
            f"unknown field(s): {', '.join(short(u, 40) if not u.isidentifier() else u for u in unknown[:5])}"
        )
    missing = [f for f in ("book_id", "order_type") if f not in doc]
    if missing:
        raise SignalError(f"missing field(s): {', '.join(missing)}")
    book_id = check_book_id(doc["book_id"])
    order_type = check_order_type(doc["order_type"])
    if "leverage" not in doc:
        if order_type != "FLAT":
            raise SignalError(f"missing field(s): leverage (needed for {order_type})")
        return book_id, order_type, 0.0
    return book_id, order_type, check_leverage(doc["leverage"], order_type)


def check_book_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BOOK_ID:
        raise SignalError(f"book_id must be an integer in [0, 2^63), got {short(value)}")
    return value


def check_order_type(value: object) -> str:
    if not isinstance(value, str) or value not in ORDER_TYPES:
        raise SignalError(f"order_type must be one of {', '.join(ORDER_TYPES)}, got {short(value)}")
    return value


def check_leverage(value: object, order_type: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignalError(f"leverage must be a number, got {short(value)}")
    leverage = float(value)
    if order_type == "FLAT":
        if not (math.isfinite(leverage) and leverage >= 0):
            raise SignalError(
                f"leverage must be a finite number >= 0 (or omitted) for FLAT, got {short(value)}"
            )
        return 0.0
    if not (math.isfinite(leverage) and leverage > 0):
        raise SignalError(f"leverage must be a finite number > 0 for {order_type}, got {short(value)}")
    return leverage


def load_api_key(path: Path) -> str:
    """The ``api_key`` of a secrets file; ``SignalError`` with one line saying what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SignalError(
            f'{path} does not exist: create it as {{"api_key": "<a long random key>"}} '
            f"(see mining/{path.name}.example)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise SignalError(f"cannot read {path}: {e}") from None
    doc = loads_object(text, str(path))
    if set(doc) != {"api_key"}:
        extra = sorted(set(doc) - {"api_key"})
        raise SignalError(
            f"{path}: unknown field(s) {', '.join(extra)}" if extra else f"{path}: missing field api_key"
        )
    key = doc["api_key"]
    if not isinstance(key, str) or not key.strip():
        raise SignalError(f"{path}: api_key must be a non-empty string")
    if not is_text(key):
        raise SignalError(f"{path}: api_key holds a lone surrogate (\\ud800-\\udfff), which is not text")
    if key == EXAMPLE_API_KEY:
        raise SignalError(f"{path}: api_key is still the example placeholder; set a long random key")
    return key


def check_uuid(value: object) -> str:
    if not isinstance(value, str):
        raise SignalError(f"uuid must be a string, got {value!r}")
    try:
        parsed = uuidlib.UUID(value)
    except ValueError:
        raise SignalError(f"uuid {value!r} is not a uuid") from None
    if str(parsed) != value:
        raise SignalError(f"uuid {value!r} is not in canonical form")
    return value


def signal_from_json(doc: dict[str, Any], file_stem: str) -> Signal:
    """The signal fields of a signal file (the tracking fields are checked by the store)."""
    missing = [f for f in SIGNAL_FIELDS if f not in doc]
    if missing:
        raise SignalError(f"missing field(s): {', '.join(missing)}")
    signal_uuid = check_uuid(doc["uuid"])
    if signal_uuid != file_stem:
        raise SignalError(f"uuid {signal_uuid} does not match the file name {file_stem}.json")
    received_at = doc["received_at"]
    if isinstance(received_at, bool) or not isinstance(received_at, int | float):
        raise SignalError(f"received_at must be a number, got {received_at!r}")
    if not math.isfinite(received_at):
        raise SignalError(f"received_at must be finite, got {received_at!r}")
    order_type = check_order_type(doc["order_type"])
    return Signal(
        uuid=signal_uuid,
        received_at=float(received_at),
        book_id=check_book_id(doc["book_id"]),
        order_type=order_type,
        leverage=check_leverage(doc["leverage"], order_type),
    )
