"""Run from an installed wheel (not the checkout): every room imports, the package
carries its data files and py.typed, and the native core is there and works."""

from __future__ import annotations

import importlib
import importlib.resources
import pkgutil
import sys

import tinyagent

where = tinyagent.__file__ or ""
if "site-packages" not in where:
    sys.exit(f"tinyagent came from {where}, not from the installed wheel")

rooms = [m.name for m in pkgutil.iter_modules(tinyagent.__path__) if not m.name.startswith("_")]
for room in rooms:
    importlib.import_module(f"tinyagent.{room}")
files = importlib.resources.files("tinyagent")
missing = [
    name
    for name in ("py.typed", "catalogue/_prices.json", "serve/page.html")
    if not files.joinpath(name).is_file()
]
if missing:
    sys.exit(f"the wheel lacks {', '.join(missing)}")
if not tinyagent.native_available():
    sys.exit("the wheel has no native core")
parser = tinyagent.transports.make_byte_parser(
    tinyagent.Model("m", "http://127.0.0.1:9/v1"), native=True
)
events = parser.feed(b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n')
if not any(getattr(e, "delta", None) == "ok" for e in events):
    sys.exit(f"the native core did not parse a chunk: {events!r}")
print(f"wheel ok: {len(rooms)} rooms import, data files and the native core present")
