"""MCP records as ours: a server's tool as a :class:`Tool`, a call's content as parts.

Kept apart from the connection so that the mapping (names, schemas, content kinds) can
be read and tested on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
import mcp_types

from .._util.json import dumps
from ..messages import ImageContent, TextContent, UserContent
from ..tools import Tool, ToolExecute

__all__ = ["content_parts", "model_facing_name", "server_tool"]

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 64  # what OpenAI and Anthropic accept for a tool name


def model_facing_name(prefix: str, name: str) -> str:
    """``prefix + name`` in the characters every provider accepts for a tool name."""
    return _NAME_CHARS.sub("_", prefix + name)[:MAX_NAME]


@attrs.frozen
class _ServerValidatedTool(Tool):
    """A tool whose schema our validator cannot compile: the server checks the arguments
    (and answers a mismatch as an error result) instead of us."""

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_validator", None)

    def validate(self, args: Mapping[str, Any]) -> list[str]:
        return []


def server_tool(listed: mcp_types.Tool, name: str, execute: ToolExecute, **options: Any) -> Tool:
    """A listed MCP tool as a :class:`Tool` named ``name`` for the model."""
    schema = dict(listed.input_schema or {})
    schema.setdefault("type", "object")
    schema.pop("title", None)  # the SDK's generated "xArguments", noise for the model
    description = listed.description or (listed.title or listed.name)
    try:
        return Tool(name, description, schema, execute, **options)
    except ValueError:
        return _ServerValidatedTool(name, description, schema, execute, **options)


def content_parts(blocks: list[mcp_types.ContentBlock]) -> list[UserContent]:
    """A call's content as text and image parts; other kinds are described in text (an
    audio clip, a resource link) or inlined when they are text (an embedded resource)."""
    parts: list[UserContent] = []
    for block in blocks:
        if isinstance(block, mcp_types.TextContent):
            parts.append(TextContent(block.text))
        elif isinstance(block, mcp_types.ImageContent):
            parts.append(ImageContent(block.data, block.mime_type))
        elif isinstance(block, mcp_types.EmbeddedResource):
            res = block.resource
            if isinstance(res, mcp_types.TextResourceContents):
                parts.append(TextContent(res.text))
            else:
                mime = res.mime_type or "application/octet-stream"
                parts.append(TextContent(f"[binary resource {res.uri} ({mime})]"))
        elif isinstance(block, mcp_types.ResourceLink):
            parts.append(TextContent(f"[resource {block.uri}: {block.description or block.name}]"))
        elif isinstance(block, mcp_types.AudioContent):
            parts.append(TextContent(f"[audio ({block.mime_type}), not shown to the model]"))
        else:  # a kind newer than this adapter: keep it, as JSON
            parts.append(TextContent(dumps(block.model_dump(mode="json")).decode()))
    return parts
