"""Leaves: JSON, logging, atomic files, argument checks, sync-or-async calls, the error
inside task groups and the library's wording of its messages. Imports nothing of tinyagent; every room may use
it, each module by name (``from .._util import wording as words``)."""
