"""An incremental JSON parser: feed fragments as they stream in, ask for the value so far.

Each fragment is scanned once (plain string runs in one regex step), so feeding costs
the fragment's length, not the document's: a reply of any length is never re-parsed
from the start. The value is built in place: objects and arrays appear as soon as they
open and grow as members complete; a string still streaming shows its text so far
(joined when :meth:`PartialJSON.value` is asked, so that call costs the open string's
length); numbers, ``true``, ``false`` and ``null`` appear once complete; a key appears
with its value.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

__all__ = ["PartialJSON", "PartialJSONError"]

_WS = frozenset(" \t\n\r")
_PLAIN = re.compile(r'[^"\\]+')
_NUMBER = re.compile(r"[0-9eE+\-.]+")
_NUMBER_DONE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+\-]?[0-9]+)?\Z")
_SIMPLE = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = {"true": True, "false": False, "null": None}

# what the parser expects next
_VALUE, _VALUE_OR_CLOSE, _KEY_OR_CLOSE, _KEY, _COLON, _AFTER, _STRING, _NUMBER_M, _WORD, _END = (
    range(10)
)


class PartialJSONError(ValueError):
    """The text so far cannot be the start of a JSON document."""


class PartialJSON:
    """``p.feed(fragment)`` as fragments arrive; ``p.value()`` is the value so far (the
    same live object each time, grown in place: copy it to keep a snapshot)."""

    __slots__ = (
        "_esc",
        "_high",
        "_is_key",
        "_key",
        "_mode",
        "_offset",
        "_parts",
        "_root",
        "_shown",
        "_slot",
        "_stack",
        "_token",
    )

    def __init__(self) -> None:
        self._stack: list[Any] = []  # open containers, innermost last
        self._root: Any = None
        self._mode = _VALUE
        self._key: str = ""
        self._parts: list[str] = []  # the open string's decoded text
        self._is_key = False
        self._esc = ""  # an escape cut by a fragment's end, e.g. "\\u00"
        self._high = ""  # a high surrogate waiting for its low half
        self._slot: Any = None  # where the open string value shows: (container, key) or None
        self._shown = 0  # how many parts the shown string holds
        self._token = ""  # a number or literal so far
        self._offset = 0  # characters consumed, for error messages

    @property
    def done(self) -> bool:
        """Whether a complete JSON value has been read."""
        return self._mode == _END

    def value(self) -> Any:
        """The value so far (None before anything has been read)."""
        if self._mode == _STRING and not self._is_key and len(self._parts) != self._shown:
            self._show(self._joined())
        return self._root

    def feed(self, text: str) -> None:
        """Read ``text``; raises :class:`PartialJSONError` if it breaks the JSON."""
        i, n = 0, len(text)
        while i < n:
            mode = self._mode
            if mode == _STRING:
                i = self._string(text, i, n)
                continue
            c = text[i]
            if mode == _NUMBER_M:
                m = _NUMBER.match(text, i)
                if m is not None:
                    self._token += m.group()
                    i = m.end()
                    continue
                self._end_number()
                continue
            if mode == _WORD:
                self._token += c
                i += 1
                word = self._token
                if word in _LITERALS:
                    self._attach(_LITERALS[word])
                elif not any(w.startswith(word) for w in _LITERALS):
                    self._fail(f"unexpected {word!r}", i)
                continue
            if c in _WS:
                i += 1
                continue
            i += 1
            if mode in (_VALUE, _VALUE_OR_CLOSE):
                if c == "]" and mode == _VALUE_OR_CLOSE:
                    self._close()
                else:
                    self._start_value(c, i)
            elif mode == _AFTER:
                top = self._stack[-1] if self._stack else None
                if c == ",":
                    self._mode = _KEY if isinstance(top, dict) else _VALUE
                elif (c == "}" and isinstance(top, dict)) or (c == "]" and isinstance(top, list)):
                    self._close()
                else:
                    self._fail(f"expected ',' or the container's end, got {c!r}", i)
            elif mode in (_KEY_OR_CLOSE, _KEY):
                if c == '"':
                    self._open_string(key=True)
                elif c == "}" and mode == _KEY_OR_CLOSE:
                    self._close()
                else:
                    self._fail(f"expected a key, got {c!r}", i)
            elif mode == _COLON:
                if c != ":":
                    self._fail(f"expected ':', got {c!r}", i)
                self._mode = _VALUE
            else:  # _END
                self._fail(f"unexpected {c!r} after the end of the value", i)
        self._offset += n

    # --- values ----------------------------------------------------------------------

    def _start_value(self, c: str, i: int) -> None:
        if c == "{":
            self._open({}, _KEY_OR_CLOSE)
        elif c == "[":
            self._open([], _VALUE_OR_CLOSE)
        elif c == '"':
            self._open_string(key=False)
        elif c == "-" or c.isdigit():
            self._token, self._mode = c, _NUMBER_M
        elif c in "tfn":
            self._token, self._mode = c, _WORD
        else:
            self._fail(f"expected a value, got {c!r}", i)

    def _attach(self, value: Any) -> Any:
        """Put ``value`` where the next value goes; returns its slot."""
        if not self._stack:
            self._root = value
            self._mode = _END
            return None
        top = self._stack[-1]
        self._mode = _AFTER
        if isinstance(top, dict):
            top[self._key] = value
            return (top, self._key)
        top.append(value)
        return (top, len(top) - 1)

    def _open(self, container: dict[str, Any] | list[Any], mode: int) -> None:
        self._attach(container)
        self._stack.append(container)
        self._mode = mode

    def _close(self) -> None:
        self._stack.pop()
        self._mode = _AFTER if self._stack else _END

    def _end_number(self) -> None:
        token = self._token
        if not _NUMBER_DONE.match(token):
            self._fail(f"{token!r} is not a number", 0)
        self._attach(float(token) if any(c in token for c in ".eE") else int(token))

    # --- strings ---------------------------------------------------------------------

    def _open_string(self, *, key: bool) -> None:
        self._parts = []
        self._is_key = key
        self._shown = 0
        self._slot = None if key else self._attach("")
        self._mode = _STRING

    def _joined(self) -> str:
        return "".join(self._parts)  # a high surrogate waits for its pair, unshown

    def _show(self, text: str) -> None:
        self._shown = len(self._parts)
        if self._slot is None:
            self._root = text
        else:
            container, where = self._slot
            container[where] = text

    def _string(self, text: str, i: int, n: int) -> int:
        parts = self._parts
        while i < n:
            if self._esc:
                i = self._escape(text, i, n)
                continue
            m = _PLAIN.match(text, i)
            if m is not None:
                if self._high:
                    parts.append("\ufffd")
                    self._high = ""
                parts.append(m.group())
                i = m.end()
                continue
            c = text[i]
            i += 1
            if c == "\\":
                self._esc = "\\"
                continue
            # the closing quote
            if self._high:
                parts.append("\ufffd")
                self._high = ""
            s = "".join(parts)
            if self._is_key:
                self._key = s
                self._mode = _COLON
            else:
                self._show(s)
                self._mode = _END if self._slot is None else _AFTER
            return i
        return i

    def _escape(self, text: str, i: int, n: int) -> int:
        """Continue the escape in ``self._esc`` with ``text[i:]``."""
        esc = self._esc
        if len(esc) == 1:
            c = text[i]
            i += 1
            if c in _SIMPLE:
                self._esc = ""
                self._char(_SIMPLE[c])
                return i
            if c != "u":
                self._fail(f"invalid escape '\\{c}' in a string", i)
            esc = self._esc = "\\u"
        take = min(6 - len(esc), n - i)
        esc += text[i : i + take]
        i += take
        if len(esc) < 6:
            self._esc = esc
            return i
        self._esc = ""
        try:
            code = int(esc[2:], 16)
        except ValueError:
            self._fail(f"invalid escape {esc!r} in a string", i)
        self._unit(code)
        return i

    def _unit(self, code: int) -> None:
        if 0xD800 <= code < 0xDC00:
            if self._high:
                self._parts.append("\ufffd")
            self._high = chr(code)
        elif 0xDC00 <= code < 0xE000:
            if self._high:
                pair = 0x10000 + ((ord(self._high) - 0xD800) << 10) + (code - 0xDC00)
                self._high = ""
                self._parts.append(chr(pair))
            else:
                self._parts.append("\ufffd")
        else:
            self._char(chr(code))

    def _char(self, ch: str) -> None:
        if self._high:
            self._parts.append("\ufffd")
            self._high = ""
        self._parts.append(ch)

    def _fail(self, why: str, i: int) -> NoReturn:
        raise PartialJSONError(f"not JSON at character {self._offset + i}: {why}")
