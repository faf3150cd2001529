"""The input's ids, held as fingerprints: a ten-million-line input in ~130 MB, not ~1 GB.

A set of ``str`` costs about 100 bytes an id. Here each id is a 62-bit fingerprint (the
interpreter's string hash; salted after a collision) in one flat ``array('Q')`` with open
addressing, 8 bytes a slot, sized from the input's estimate and grown by half when three
quarters full: 11-16 bytes an id. A flag bit of the slot says the id is done (in the
output already, or written by this run).

A fingerprint is exact here, not a probability: the input's scan adds every id and, on
a fingerprint it already holds, reads the input again to compare the two ids. The same
id twice is the input's error; two ids with one fingerprint (about one chance in
10^12 for ten million ids) start the scan over with another salt. So the ids of one
input have distinct fingerprints, and an id of that input is found by its fingerprint
alone; an id that is not the input's (a line of an edited output) is refused by the
journal, which is the authority on what is done.
"""

from __future__ import annotations

from array import array

__all__ = ["IdTable"]

DONE = 1 << 62
_FP = (1 << 62) - 1


class IdTable:
    """Fingerprints of ids (``bits`` of each: fewer only to test collisions), each with
    a done flag."""

    __slots__ = ("_count", "_done", "_fp_mask", "_salt", "_slots")

    def __init__(self, salt: int = 0, bits: int = 62, expected: int = 0) -> None:
        self._salt = salt
        self._fp_mask = (1 << bits) - 1
        # Sized for ``expected`` ids at two-thirds full: growing holds the old array and
        # the new one at once, half again the memory, which a good guess never pays.
        self._slots = array("Q", bytes(8 * max(1024, expected + expected // 2)))
        self._count = 0
        self._done = 0

    @property
    def salt(self) -> int:
        return self._salt

    def __len__(self) -> int:
        return self._count

    @property
    def done_count(self) -> int:
        return self._done

    @property
    def nbytes(self) -> int:
        return len(self._slots) * 8

    def fingerprint(self, item_id: str) -> int:
        # Another salt hashes other text: a tuple's hash mixes the id's hash, so two
        # ids whose hashes collide would collide under every salt.
        h = hash(item_id) if self._salt == 0 else hash(f"{self._salt}\x00{item_id}")
        return (h & self._fp_mask) or 1  # 0 marks an empty slot

    def _find(self, fp: int) -> int:
        """The slot holding ``fp``, or the empty slot where it would go."""
        slots = self._slots
        size = len(slots)
        i = fp % size
        while True:
            v = slots[i]
            if v == 0 or v & _FP == fp:
                return i
            i += 1
            if i == size:
                i = 0

    def add(self, item_id: str) -> bool:
        """Add the id's fingerprint; False if it was there already (the same id, or
        another with its fingerprint: the caller tells which). The scan calls it once
        per input line, so the fingerprint and the probe are inlined here."""
        salted = self._salt != 0
        fp = self.fingerprint(item_id) if salted else (hash(item_id) & self._fp_mask) or 1
        slots = self._slots
        size = len(slots)
        i = fp % size
        while True:
            v = slots[i]
            if v == 0:
                break
            if v & _FP == fp:
                return False
            i += 1
            if i == size:
                i = 0
        slots[i] = fp
        self._count += 1
        if self._count * 4 > size * 3:
            self._grow()
        return True

    def __contains__(self, item_id: object) -> bool:
        if not isinstance(item_id, str):
            return False
        return self._slots[self._find(self.fingerprint(item_id))] != 0

    def mark_done(self, item_id: str) -> bool | None:
        """Flag the id done: True if it was not, False if it was, None if the id is not
        in the table."""
        i = self._find(self.fingerprint(item_id))
        v = self._slots[i]
        if v == 0:
            return None
        if v & DONE:
            return False
        self._slots[i] = v | DONE
        self._done += 1
        return True

    def is_done(self, item_id: str) -> bool:
        return bool(self._slots[self._find(self.fingerprint(item_id))] & DONE)

    def _grow(self) -> None:
        old = self._slots
        slots = self._slots = array("Q", bytes(8 * (len(old) + len(old) // 2)))
        size = len(slots)
        for v in old:
            if v:
                i = (v & _FP) % size
                while slots[i]:
                    i += 1
                    if i == size:
                        i = 0
                slots[i] = v
