"""Amazon Bedrock's Converse API (``api="bedrock-converse"``): the request, its two ways
of authenticating (a Bedrock API key, or SigV4 by botocore), and the event parser that
reads ConverseStream's frames (the AWS event stream, decoded by ``wire``).

A sub-room of ``providers``: it imports ``wire``, ``messages``, ``_util`` and the
providers' shared modules (and botocore, the ``bedrock`` extra, when it signs);
nothing imports it but the providers' face.
"""

from __future__ import annotations

from ._provider import BedrockProvider

__all__ = ["BedrockProvider"]
