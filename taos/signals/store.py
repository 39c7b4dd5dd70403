"""The miner's signal store: which validator got which signal, and which acknowledged it.

One store per signal folder and process (``shared_store``), shared by the agent instances of all
validators; every method takes the store's lock, so agents may call it from their worker threads.
A second process on the same folder is refused (an ``flock`` on ``signal_state/store.lock``, which
the kernel releases when the holder dies, also on ``kill -9``).

Folders under the root (``mining`` by default)::

    received_signals/<uuid>.json    pending signals, with their tracking (rewritten atomically)
    processed_signals/<uuid>.json   acknowledged by every recent validator (final record)
    failed_signals/<uuid>.json      rejected, superseded or timed out (final record, with reasons)
    signal_state/validators.json    when each validator last queried, and what it was last sent

Tracking fields the store adds to a signal file::

    "client_order_id": 123,          the signal's id for every validator (records.client_order_id)
    "validators": {
      "<hotkey>": {"sends": 1, "first_sent_at": t, "last_sent_at": t,
                   "acknowledged": {"at": t, "ts_ns": 0, "leverage": 2.0, "quantity": 0.5} | null,
                   "rejected": {"at": t, "reason": "INVALID_INSTRUCTION", "detail": "..."} | null}
    },
    "status": "processed" | "failed", "finished_at": t, "reason": "..."   (once decided)

Lifecycle of a signal, driven by the agents' calls (``poll`` once per state of each validator):

- **send**: a pending signal not yet sent to the polling validator is recorded as sent (the file
  is rewritten and flushed) *before* ``poll`` returns it, i.e. before the reply leaves the miner.
  Signals are sent in reception order; a signal for a book the validator's simulation does not
  have is recorded as rejected by that validator (``UNKNOWN_BOOK``) without being sent.
- **resend**: a signal sent to a validator but neither acknowledged nor rejected by it is sent
  again, with the same ``client_order_id``, when ``resend_after_s`` passed since its last send,
  when this process has not sent it yet (the first state after a restart), or when the validator
  dropped the reply that carried it (``ReplyRejected``). It is never sent again once a later
  signal for the same book was sent to that validator (that would undo the later one); a signal
  that would be sent for the *first* time after a later one is recorded as ``SUPERSEDED``.
- **acknowledged / rejected**: a ``TargetAccepted`` or ``OrderRejected`` notice carrying the
  signal's ``client_order_id`` is recorded for its validator (the first of each kind counts).
- **decided**: failed as soon as any validator rejected it; processed once at least one
  validator acknowledged it and every *active* validator (one that queried within
  ``validator_window_s``) did; failed when neither happened within ``ack_timeout_s`` of its
  reception. The decision is written into the file first, then the file is renamed into
  ``processed_signals/`` or ``failed_signals/``.

Crash safety (``kill -9`` at any point): a file is in exactly one folder at every moment (a
rename), so no signal is lost or finished twice; a decided file still in ``received_signals/``
(a crash between decision and rename) is moved when the store opens. A crash after recording a
send but before the reply reached the validator is repaired by the resend after the restart; a
crash after the validator's answer but before it was recorded likewise (the repeated target gets a
fresh acknowledgement). So a validator receives a signal **at least once**, possibly more than
once, but always under the same ``client_order_id`` (a function of the uuid); a TargetPosition is
a desired exposure, so executing it again changes nothing but rounding.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taos.signals.files import DirLock, LockedError, is_temporary, move_atomic, write_json_atomic
from taos.signals.records import SIGNAL_FIELDS, Signal, SignalError, loads_object, signal_from_json

RECEIVED = "received_signals"
PROCESSED = "processed_signals"
FAILED = "failed_signals"
STATE = "signal_state"
VALIDATORS_FILE = "validators.json"
LOCK_FILE = "store.lock"
PROCESSED_STATUS, FAILED_STATUS = "processed", "failed"
UNKNOWN_BOOK, SUPERSEDED = "UNKNOWN_BOOK", "SUPERSEDED"
_TMP_PREFIX = ".store-"
log = logging.getLogger("taos.signals")

Order = tuple[float, str]


class SignalStoreError(Exception):
    """The store cannot open (bad settings, folder in use, a state file it cannot read)."""


@dataclass
class Delivery:
    """What one validator did with one signal."""

    sends: int = 0
    first_sent_at: float | None = None
    last_sent_at: float | None = None
    acknowledged: dict[str, Any] | None = None
    rejected: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "sends": self.sends,
            "first_sent_at": self.first_sent_at,
            "last_sent_at": self.last_sent_at,
            "acknowledged": self.acknowledged,
            "rejected": self.rejected,
        }

    @classmethod
    def from_json(cls, doc: object, where: str) -> Delivery:
        if not isinstance(doc, dict) or set(doc) != {
            "sends",
            "first_sent_at",
            "last_sent_at",
            "acknowledged",
            "rejected",
        }:
            raise SignalError(f"{where}: must be an object with sends, first_sent_at, last_sent_at, ...")
        sends = doc["sends"]
        if isinstance(sends, bool) or not isinstance(sends, int) or sends < 0:
            raise SignalError(f"{where}.sends must be an integer >= 0, got {sends!r}")
        times = [doc["first_sent_at"], doc["last_sent_at"]]
        for name, t in zip(("first_sent_at", "last_sent_at"), times, strict=True):
            if t is not None and (isinstance(t, bool) or not isinstance(t, int | float)):
                raise SignalError(f"{where}.{name} must be a number or null, got {t!r}")
        if (sends > 0) != (times[1] is not None):
            raise SignalError(f"{where}: last_sent_at must be set exactly when sends > 0")
        for name in ("acknowledged", "rejected"):
            if doc[name] is not None and not isinstance(doc[name], dict):
                raise SignalError(f"{where}.{name} must be an object or null")
        return cls(sends, times[0], times[1], doc["acknowledged"], doc["rejected"])


@dataclass
class _Entry:
    signal: Signal
    path: Path
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    status: str | None = None
    finished_at: float | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        doc = self.signal.to_json()
        doc["client_order_id"] = self.signal.client_order_id
        doc["validators"] = {v: d.to_json() for v, d in sorted(self.deliveries.items())}
        if self.status is not None:
            doc["status"] = self.status
            doc["finished_at"] = self.finished_at
            doc["reason"] = self.reason
        return doc


@dataclass
class _Validator:
    last_seen: float
    persisted_seen: float | None = None
    last_sent: dict[int, Order] = field(default_factory=dict)  # book -> order of the latest finished send


def _entry_from_json(doc: dict[str, Any], path: Path) -> _Entry:
    signal = signal_from_json(doc, path.stem)
    tracking = {"client_order_id", "validators", "status", "finished_at", "reason"}
    unknown = sorted(set(doc) - set(SIGNAL_FIELDS) - tracking)
    if unknown:
        raise SignalError(f"unknown field(s): {', '.join(unknown)}")
    if "client_order_id" in doc and doc["client_order_id"] != signal.client_order_id:
        raise SignalError(f"client_order_id {doc['client_order_id']!r} is not the one of uuid {signal.uuid}")
    validators = doc.get("validators", {})
    if not isinstance(validators, dict):
        raise SignalError("validators must be an object")
    entry = _Entry(
        signal,
        path,
        {str(v): Delivery.from_json(d, f"validators[{v}]") for v, d in validators.items()},
    )
    status = doc.get("status")
    if status is not None:
        if status not in (PROCESSED_STATUS, FAILED_STATUS):
            raise SignalError(f"status must be processed or failed, got {status!r}")
        finished_at, reason = doc.get("finished_at"), doc.get("reason")
        if isinstance(finished_at, bool) or not isinstance(finished_at, int | float):
            raise SignalError(f"finished_at must be a number, got {finished_at!r}")
        if reason is not None and not isinstance(reason, str):
            raise SignalError(f"reason must be a string or null, got {reason!r}")
        entry.status, entry.finished_at, entry.reason = status, float(finished_at), reason
    return entry


class SignalStore:
    def __init__(
        self,
        root: str | Path,
        *,
        ack_timeout_s: float = 300.0,
        validator_window_s: float = 120.0,
        resend_after_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (
            ("ack_timeout_s", ack_timeout_s),
            ("validator_window_s", validator_window_s),
            ("resend_after_s", resend_after_s),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
                raise SignalStoreError(f"{name} must be a finite number > 0, got {value!r}")
        self.root = Path(root)
        self.ack_timeout_s = float(ack_timeout_s)
        self.validator_window_s = float(validator_window_s)
        self.resend_after_s = float(resend_after_s)
        self._clock = clock
        self.received, self.processed = self.root / RECEIVED, self.root / PROCESSED
        self.failed, self.state = self.root / FAILED, self.root / STATE
        try:
            for d in (self.received, self.processed, self.failed, self.state):
                d.mkdir(parents=True, exist_ok=True)
            self._file_lock = DirLock(self.state / LOCK_FILE)
        except LockedError:
            raise SignalStoreError(
                f"the signal folder {self.root} is in use by another process ({STATE}/{LOCK_FILE} is locked)"
            ) from None
        except OSError as e:
            raise SignalStoreError(f"cannot use the signal folder {self.root}: {e}") from None
        self._mutex = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._by_id: dict[int, str] = {}
        self._skipped: set[str] = set()  # files that cannot be moved (a name clash); left alone
        self._sent_here: set[tuple[str, str]] = set()  # (uuid, validator) sent by this process
        self.closed = False
        try:
            self._validators = self._load_validators()
            self._remove_stale_temporaries()
            with self._mutex:
                self._scan()
                self._settle()
        except BaseException:
            self._file_lock.release()
            raise
        log.info("signal store: watching %s", self.received.resolve())

    # --- the agents' calls -----------------------------------------------------------------------

    def poll(self, validator: str, books: int) -> list[Signal]:
        """One state of ``validator`` (whose simulation has ``books`` books): records that it
        queried, picks up new signal files, decides what can be decided, and returns the signals to
        send it now, in order, already recorded as sent."""
        with self._mutex:
            self._check_open()
            now = self._clock()
            self._seen(validator, now)
            self._scan()
            marked = self._mark_unknown_books(validator, books, now)
            self._settle()
            out, superseded = self._take(validator, now)
            if superseded or marked:
                self._settle()
            return out

    def acknowledge(
        self, validator: str, client_order_id: int, *, ts_ns: int, leverage: float, quantity: float
    ) -> bool:
        """A ``TargetAccepted`` of ``validator``; False if the id is not a pending signal's."""
        with self._mutex:
            self._check_open()
            entry = self._pending_by_id(client_order_id)
            if entry is None:
                return False
            delivery = entry.deliveries.setdefault(validator, Delivery())
            if delivery.acknowledged is None:
                delivery.acknowledged = {
                    "at": self._clock(),
                    "ts_ns": ts_ns,
                    "leverage": leverage,
                    "quantity": quantity,
                }
                self._write(entry)
            return True

    def reject(self, validator: str, client_order_id: int, *, reason: str, detail: str) -> bool:
        """An ``OrderRejected`` of ``validator``; False if the id is not a pending signal's."""
        with self._mutex:
            self._check_open()
            entry = self._pending_by_id(client_order_id)
            if entry is None:
                return False
            delivery = entry.deliveries.setdefault(validator, Delivery())
            if delivery.rejected is None:
                delivery.rejected = {"at": self._clock(), "reason": reason, "detail": detail}
                self._write(entry)
            return True

    def reply_dropped(self, validator: str, client_order_ids: Iterable[int]) -> None:
        """The validator dropped the reply that carried these ids: they are due again."""
        with self._mutex:
            for cid in client_order_ids:
                signal_uuid = self._by_id.get(cid)
                if signal_uuid is not None:
                    self._sent_here.discard((signal_uuid, validator))

    def settle(self) -> None:
        """Decides and moves what can be decided now (``poll`` does this too)."""
        with self._mutex:
            self._check_open()
            self._scan()
            self._settle()

    def pending(self) -> list[str]:
        """The uuids of the signals not yet decided, in sending order."""
        with self._mutex:
            return [e.signal.uuid for e in self._ordered()]

    def record(self, signal_uuid: str) -> dict[str, Any] | None:
        """The tracking record of a pending signal (a copy), None if it is not pending."""
        with self._mutex:
            entry = self._entries.get(signal_uuid)
            return None if entry is None else copy.deepcopy(entry.to_json())

    def close(self) -> None:
        with self._mutex:
            if not self.closed:
                self.closed = True
                self._file_lock.release()

    # --- internals -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.closed:
            raise SignalStoreError(f"the signal store of {self.root} is closed")

    def _pending_by_id(self, cid: int) -> _Entry | None:
        signal_uuid = self._by_id.get(cid)
        if signal_uuid is None:
            return None
        entry = self._entries[signal_uuid]
        return entry if entry.status is None else None

    def _ordered(self) -> list[_Entry]:
        return sorted((e for e in self._entries.values() if e.status is None), key=lambda e: e.signal.order)

    def _write(self, entry: _Entry) -> None:
        write_json_atomic(entry.path, entry.to_json(), prefix=_TMP_PREFIX)

    def _scan(self) -> None:
        names: set[str] = set()
        with os.scandir(self.received) as it:
            for item in it:
                if item.name.endswith(".json") and not item.name.startswith(".") and item.is_file():
                    names.add(item.name[: -len(".json")])
        for stem in sorted(names - self._entries.keys() - self._skipped):
            self._load(self.received / f"{stem}.json")
        for stem in list(self._entries.keys() - names):
            log.warning("signal %s disappeared from %s; no longer tracked", stem, self.received)
            self._forget(self._entries[stem])

    def _load(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as e:
            return self._fail_unreadable(path, f"cannot read {path.name}: {e}", "")
        try:
            entry = _entry_from_json(loads_object(text, path.name), path)
        except SignalError as e:
            return self._fail_unreadable(path, f"malformed signal file: {e}", text)
        self._entries[entry.signal.uuid] = entry
        self._by_id[entry.signal.client_order_id] = entry.signal.uuid

    def _fail_unreadable(self, path: Path, reason: str, text: str) -> None:
        """A file the store cannot read is recorded in failed_signals/ and removed."""
        log.error("%s: %s", path, reason)
        target = self.failed / path.name
        if target.exists():
            target = self.failed / f"{path.stem}.{uuidlib.uuid4().hex[:8]}.json"
        record = {
            "file": path.name,
            "status": FAILED_STATUS,
            "finished_at": self._clock(),
            "reason": reason,
            "content": text[:4096],
        }
        write_json_atomic(target, record, prefix=_TMP_PREFIX)
        path.unlink(missing_ok=True)

    def _forget(self, entry: _Entry) -> None:
        del self._entries[entry.signal.uuid]
        self._by_id.pop(entry.signal.client_order_id, None)
        for key in [k for k in self._sent_here if k[0] == entry.signal.uuid]:
            self._sent_here.discard(key)

    def _seen(self, validator: str, now: float) -> None:
        v = self._validators.get(validator)
        if v is None:
            v = self._validators[validator] = _Validator(now)
        v.last_seen = now
        # Written at most every tenth of the window: after a restart a validator may count as
        # gone up to that much early.
        if v.persisted_seen is None or now - v.persisted_seen > self.validator_window_s / 10:
            self._save_validators(now)

    def _active(self, now: float) -> set[str]:
        return {h for h, v in self._validators.items() if now - v.last_seen <= self.validator_window_s}

    def _mark_unknown_books(self, validator: str, books: int, now: float) -> bool:
        marked = False
        for entry in self._ordered():
            if entry.signal.book_id < books:
                continue
            delivery = entry.deliveries.setdefault(validator, Delivery())
            if delivery.rejected is None and delivery.acknowledged is None:
                delivery.rejected = {
                    "at": now,
                    "reason": UNKNOWN_BOOK,
                    "detail": f"book {entry.signal.book_id} does not exist (the simulation has {books} books)",
                }
                self._write(entry)
                marked = True
        return marked

    def _take(self, validator: str, now: float) -> tuple[list[Signal], bool]:
        pending = self._ordered()
        v = self._validators[validator]
        guard: dict[int, Order] = dict(v.last_sent)
        for entry in pending:
            d = entry.deliveries.get(validator)
            if d is not None and d.sends > 0:
                book = entry.signal.book_id
                guard[book] = max(guard.get(book, entry.signal.order), entry.signal.order)
        out: list[Signal] = []
        superseded = False
        for entry in pending:
            s = entry.signal
            d = entry.deliveries.get(validator)
            if d is not None and (d.acknowledged is not None or d.rejected is not None):
                continue
            later = s.book_id in guard and guard[s.book_id] > s.order
            if d is None or d.sends == 0:
                if later:
                    newer = guard[s.book_id][1]
                    d = entry.deliveries.setdefault(validator, Delivery())
                    d.rejected = {
                        "at": now,
                        "reason": SUPERSEDED,
                        "detail": f"signal {newer} for book {s.book_id} was sent to this validator before",
                    }
                    self._write(entry)
                    superseded = True
                    continue
            else:
                assert d.last_sent_at is not None
                sent_here = (s.uuid, validator) in self._sent_here
                due = not sent_here or now - d.last_sent_at >= self.resend_after_s
                if later or not due:
                    continue
            d = entry.deliveries.setdefault(validator, Delivery())
            d.sends += 1
            d.first_sent_at = now if d.first_sent_at is None else d.first_sent_at
            d.last_sent_at = now
            self._write(entry)  # recorded before the reply leaves
            self._sent_here.add((s.uuid, validator))
            guard[s.book_id] = max(guard.get(s.book_id, s.order), s.order)
            out.append(s)
        return out, superseded

    def _settle(self) -> None:
        now = self._clock()
        active = self._active(now)
        for entry in sorted(self._entries.values(), key=lambda e: e.signal.order):
            if entry.status is None and not self._decide(entry, active, now):
                continue
            self._finish(entry)

    def _decide(self, entry: _Entry, active: set[str], now: float) -> bool:
        rejected = [(v, d.rejected) for v, d in sorted(entry.deliveries.items()) if d.rejected is not None]
        acked = {v for v, d in entry.deliveries.items() if d.acknowledged is not None}
        if rejected:
            entry.status = FAILED_STATUS
            entry.reason = "; ".join(
                f"rejected by {v}: {r.get('reason')}" + (f" ({r['detail']})" if r.get("detail") else "")
                for v, r in rejected
            )
        elif acked and active <= acked:
            entry.status = PROCESSED_STATUS
        elif now - entry.signal.received_at >= self.ack_timeout_s:
            entry.status = FAILED_STATUS
            waiting = sorted((active | set(entry.deliveries)) - acked)
            if not waiting:
                what = "no validator queried the miner"
            else:
                what = "waiting for " + ", ".join(
                    f"{v} (sent {entry.deliveries[v].sends} times)"
                    if v in entry.deliveries and entry.deliveries[v].sends
                    else f"{v} (not sent)"
                    for v in waiting
                )
            entry.reason = f"not acknowledged within {self.ack_timeout_s:g} s: {what}"
        else:
            return False
        entry.finished_at = now
        self._write(entry)  # the decision is durable before the move
        return True

    def _finish(self, entry: _Entry) -> None:
        s = entry.signal
        # What was sent stays known after the file leaves (the resend guard of _take).
        changed = False
        for hotkey, d in entry.deliveries.items():
            if d.sends == 0:
                continue
            assert d.last_sent_at is not None
            v = self._validators.setdefault(hotkey, _Validator(d.last_sent_at))
            if s.order > v.last_sent.get(s.book_id, (float("-inf"), "")):
                v.last_sent[s.book_id] = s.order
                changed = True
        if changed:
            self._save_validators(self._clock())
        target = (self.processed if entry.status == PROCESSED_STATUS else self.failed) / entry.path.name
        try:
            move_atomic(entry.path, target)
        except FileExistsError:
            log.error("cannot move %s: %s exists; left in place", entry.path, target)
            self._skipped.add(s.uuid)
        else:
            log.info("signal %s %s%s", s.uuid, entry.status, f": {entry.reason}" if entry.reason else "")
        self._forget(entry)

    # --- validators.json -------------------------------------------------------------------------

    def _load_validators(self) -> dict[str, _Validator]:
        path = self.state / VALIDATORS_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as e:
            raise SignalStoreError(f"cannot read {path}: {e}") from None
        try:
            doc = loads_object(text, str(path))
            return _validators_from_json(doc)
        except SignalError as e:
            raise SignalStoreError(f"{path}: {e}") from None

    def _save_validators(self, now: float) -> None:
        keep = max(self.validator_window_s, self.ack_timeout_s)
        for hotkey in [h for h, v in self._validators.items() if now - v.last_seen > keep]:
            del self._validators[hotkey]
        doc = {
            "validators": {
                h: {
                    "last_seen": v.last_seen,
                    "last_sent": {str(b): list(o) for b, o in sorted(v.last_sent.items())},
                }
                for h, v in sorted(self._validators.items())
            }
        }
        write_json_atomic(self.state / VALIDATORS_FILE, doc, prefix=_TMP_PREFIX)
        for v in self._validators.values():
            v.persisted_seen = v.last_seen

    def _remove_stale_temporaries(self) -> None:
        """The store's own temporary files left by a crash (the lock proves no other store runs)."""
        for folder in (self.received, self.processed, self.failed, self.state):
            for item in folder.iterdir():
                if item.name.startswith(_TMP_PREFIX) and is_temporary(item.name):
                    item.unlink(missing_ok=True)


def _validators_from_json(doc: dict[str, Any]) -> dict[str, _Validator]:
    if set(doc) != {"validators"} or not isinstance(doc["validators"], dict):
        raise SignalError('must be {"validators": {...}}')
    out: dict[str, _Validator] = {}
    for hotkey, v in doc["validators"].items():
        where = f"validators[{hotkey}]"
        if not isinstance(v, dict) or set(v) != {"last_seen", "last_sent"}:
            raise SignalError(f"{where} must be an object with last_seen and last_sent")
        seen = v["last_seen"]
        if isinstance(seen, bool) or not isinstance(seen, int | float):
            raise SignalError(f"{where}.last_seen must be a number, got {seen!r}")
        if not isinstance(v["last_sent"], dict):
            raise SignalError(f"{where}.last_sent must be an object")
        last_sent: dict[int, Order] = {}
        for book, order in v["last_sent"].items():
            ok = (
                book.isdigit()
                and isinstance(order, list)
                and len(order) == 2
                and isinstance(order[0], int | float)
                and not isinstance(order[0], bool)
                and isinstance(order[1], str)
            )
            if not ok:
                raise SignalError(
                    f"{where}.last_sent[{book}] must be [received_at, uuid] under a book number"
                )
            last_sent[int(book)] = (float(order[0]), order[1])
        out[hotkey] = _Validator(float(seen), float(seen), last_sent)
    return out


# --- one store per folder and process --------------------------------------------------------------

_shared: dict[Path, SignalStore] = {}
_shared_lock = threading.Lock()


def shared_store(
    root: str | Path,
    *,
    ack_timeout_s: float = 300.0,
    validator_window_s: float = 120.0,
    resend_after_s: float = 60.0,
    clock: Callable[[], float] | None = None,
) -> SignalStore:
    """The process's store of ``root``, opened on first use. Later calls must give the same
    settings (``clock`` is taken from the first call only)."""
    key = Path(root).resolve()
    with _shared_lock:
        store = _shared.get(key)
        if store is None or store.closed:
            store = SignalStore(
                root,
                ack_timeout_s=ack_timeout_s,
                validator_window_s=validator_window_s,
                resend_after_s=resend_after_s,
                clock=clock or time.time,
            )
            _shared[key] = store
        elif (store.ack_timeout_s, store.validator_window_s, store.resend_after_s) != (
            ack_timeout_s,
            validator_window_s,
            resend_after_s,
        ):
            raise SignalStoreError(f"the signal store of {root} is already open with other settings")
        return store
