# The Rust core (native/, built by setuptools-rust as tinyagent.transports._native).
# Its classes and functions are used only by _native_bridge.py, which checks them at run
# time; to the type checker they are Any.
from typing import Any

def __getattr__(name: str) -> Any: ...
