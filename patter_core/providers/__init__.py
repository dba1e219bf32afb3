"""Mechanisms shared by provider plugins, so each vendor package stays small.

* :mod:`~patter_core.providers.credentials` -- ``api_key=`` with an environment fallback, ``base_url=``
  and the WebSocket URL derived from it;
* :mod:`~patter_core.providers.sse` -- a server-sent-events parser over an httpx byte stream;
* :mod:`~patter_core.providers.buffered_stt` -- turns a whole-utterance recogniser into an STT stream;
* :mod:`~patter_core.providers.http` -- one place for HTTP clients and error mapping.
"""

from patter_core.providers.buffered_stt import BufferedSTT, BufferedSTTStream
from patter_core.providers.credentials import require_api_key, resolve_base_url, ws_url
from patter_core.providers.http import new_http_client, raise_for_provider_status
from patter_core.providers.sse import ServerSentEvent, iter_sse

__all__ = [
    "BufferedSTT",
    "BufferedSTTStream",
    "ServerSentEvent",
    "iter_sse",
    "new_http_client",
    "raise_for_provider_status",
    "require_api_key",
    "resolve_base_url",
    "ws_url",
]
