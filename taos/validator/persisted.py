"""One declaration of persisted state.

Every stateful part of the validator declares once what it keeps, and one pair of functions saves
and restores any part:

- ``STORED``: name → :class:`Stored` (dtype, shape as dimension names, the value of a new or reset
  entry). The array lives in the attribute ``ATTR_PREFIX + name`` (``_name`` by default); the part
  gives the size of each dimension name in :meth:`Persisted.sizes`.
- ``PARTS``: stored name → attribute of a sub-part (itself :class:`Persisted`); an ``OPTIONAL``
  part may be absent from a state as a whole (it then stays new).

:func:`state_of` gives a part's arrays and those of its sub-parts under flat names
(``scheme/history/values``); :func:`load_state` checks every name, dtype and shape against the
declarations and puts copies in place, then lets each part check its values and rebuild what it
derives from them (:meth:`Persisted.loaded`). A malformed state is a ``ValueError`` naming the
array; nothing is half-loaded into a part that then stays in use, because the callers load into a
fresh part and keep their own on error. :meth:`Persisted.allocate` creates the declared arrays
and :meth:`Persisted.reset_entry` gives one entry (a uid's rows) its fill values again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

import numpy as np

SEPARATOR = "/"


@dataclass(frozen=True)
class Stored:
    """One persisted array: its dtype, its shape as dimension names (``()``: a scalar), the value
    of a new or reset entry, whether a state may lack it (an array added after stores were
    written: :meth:`Persisted.loaded` is told, to rebuild it), and the enum whose values alone it
    may hold (checked when loaded)."""

    dtype: str
    dims: tuple[str, ...] = ()
    fill: float | int = 0
    optional: bool = False
    values: type[IntEnum] | None = None


class Persisted:
    """A part whose state is declared in ``STORED`` and ``PARTS`` (see the module doc)."""

    STORED: ClassVar[Mapping[str, Stored]] = {}
    PARTS: ClassVar[Mapping[str, str]] = {}
    ATTR_PREFIX: ClassVar[str] = "_"
    OPTIONAL: ClassVar[bool] = False
    """A state without any array of this part (a store written before it existed, or by another
    scoring scheme) leaves the part as it is: new."""

    def sizes(self) -> Mapping[str, int]:
        """The size of every dimension name of ``STORED``."""
        return {}

    def before_load(self, arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Called by :func:`load_state` with this part's arrays (names relative to it) before they
        are checked: may leave out those that cannot be carried over (logging why), or adapt the
        part to them (e.g. rebuild it with the sizes they were kept with)."""
        return arrays

    def loaded(self, absent: frozenset[str]) -> None:
        """Called by :func:`load_state` once the arrays are in place (its own, then its
        sub-parts'): checks the values (a ValueError names the problem) and rebuilds what is
        derived from them, or the ``absent`` optional arrays."""

    def allocate(self) -> None:
        """Creates every declared array, filled with its ``fill``."""
        sizes = self.sizes()
        for name, s in self.STORED.items():
            setattr(self, self.ATTR_PREFIX + name, np.full(_shape(s, sizes), s.fill, dtype=s.dtype))

    def reset_entry(self, index: int, dim: str = "miners") -> None:
        """Gives row ``index`` of every array whose first dimension is ``dim`` its fill value."""
        for name, s in self.STORED.items():
            if s.dims[:1] == (dim,):
                getattr(self, self.ATTR_PREFIX + name)[index] = s.fill

    def stored_array(self, name: str) -> np.ndarray:
        """The array stored as ``name`` (by default the attribute ``ATTR_PREFIX + name``)."""
        out: np.ndarray = getattr(self, self.ATTR_PREFIX + name)
        return out

    def put_array(self, name: str, a: np.ndarray) -> None:
        """Takes the loaded array ``name`` (checked, a copy)."""
        setattr(self, self.ATTR_PREFIX + name, a)

    def written(self) -> Mapping[str, np.ndarray]:
        """The arrays (of ``STORED``) that changed since the last :meth:`committed` only at the
        given indices of their last axis, e.g. the column a ring buffer wrote. A store then reads
        those columns alone instead of comparing the whole array; an array not listed may have
        changed anywhere. A part that lists an array must list every index it writes."""
        return {}

    def committed(self) -> None:
        """Called once this part's state is committed: what :meth:`written` lists starts again."""


def _shape(s: Stored, sizes: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(int(sizes[d]) for d in s.dims)


def _parts(part: Persisted) -> dict[str, Persisted]:
    out = {}
    for name, attr in part.PARTS.items():
        sub = getattr(part, attr)
        if not isinstance(sub, Persisted):
            raise TypeError(f"{type(part).__name__}.{attr} is not a Persisted part")
        out[name] = sub
    return out


def state_of(part: Persisted, *, copy: bool = True) -> dict[str, np.ndarray]:
    """Every array of ``part`` and its sub-parts under its flat name: copies, or with
    ``copy=False`` the live arrays (to be read at once, e.g. by a store's commit)."""
    out = {
        name: (part.stored_array(name).copy() if copy else part.stored_array(name)) for name in part.STORED
    }
    for prefix, sub in _parts(part).items():
        for name, a in state_of(sub, copy=copy).items():
            out[prefix + SEPARATOR + name] = a
    return out


def written_of(part: Persisted) -> dict[str, np.ndarray]:
    """:meth:`Persisted.written` of ``part`` and its sub-parts, under the names of :func:`state_of`."""
    out = dict(part.written())
    for prefix, sub in _parts(part).items():
        for name, a in written_of(sub).items():
            out[prefix + SEPARATOR + name] = a
    return out


def committed(part: Persisted) -> None:
    """:meth:`Persisted.committed` of ``part`` and its sub-parts."""
    part.committed()
    for sub in _parts(part).values():
        committed(sub)


def layout(part: Persisted) -> dict[str, tuple[np.dtype[Any], tuple[int, ...]]]:
    """The dtype and shape of every array :func:`state_of` gives for ``part``."""
    sizes = part.sizes()
    out = {name: (np.dtype(s.dtype), _shape(s, sizes)) for name, s in part.STORED.items()}
    for prefix, sub in _parts(part).items():
        for name, spec in layout(sub).items():
            out[prefix + SEPARATOR + name] = spec
    return out


def load_state(part: Persisted, arrays: Mapping[str, np.ndarray], what: str = "state") -> None:
    """Puts copies of ``arrays`` (as :func:`state_of` gave them) into ``part`` and its sub-parts.

    Raises:
        ValueError: an unknown or missing (non-optional) array, a wrong dtype or shape, or values
        that a part's :meth:`Persisted.loaded` refuses; the message names the array.
    """
    _load(part, arrays, what, "")


def within(arrays: Mapping[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    prefix = name + SEPARATOR
    return {k[len(prefix) :]: a for k, a in arrays.items() if k.startswith(prefix)}


def _load(part: Persisted, arrays: Mapping[str, np.ndarray], what: str, path: str) -> None:
    arrays = part.before_load(arrays)
    known = layout(part)
    unknown = sorted(set(arrays) - set(known))
    if unknown:
        raise ValueError(f"{what}: unknown arrays {[path + u for u in unknown]}")
    if part.OPTIONAL and not arrays:
        return
    sizes = part.sizes()
    absent = []
    for name, s in part.STORED.items():
        if name not in arrays:
            if not s.optional:
                raise ValueError(f"{what}: array {path + name} is missing")
            absent.append(name)
            continue
        a = np.asarray(arrays[name])
        want = _shape(s, sizes)
        if a.dtype != np.dtype(s.dtype) or a.shape != want:
            raise ValueError(
                f"{what}: array {path + name} must be {s.dtype}{list(want)}, got {a.dtype}{list(a.shape)}"
            )
        if s.values is not None and not np.isin(a, [int(v) for v in s.values]).all():
            raise ValueError(f"{what}: array {path + name} holds a value that is no {s.values.__name__}")
        part.put_array(name, np.array(a))
    for name, sub in _parts(part).items():
        _load(sub, within(arrays, name), what, path + name + SEPARATOR)
    try:
        part.loaded(frozenset(absent))
    except ValueError as e:
        raise ValueError(f"{what}: {path.rstrip(SEPARATOR) or type(part).__name__}: {e}") from None
