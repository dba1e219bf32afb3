"""The OpenAI Realtime API (GA WebSocket protocol) as a Patter engine.

* :mod:`.engine` -- :class:`OpenAIRealtime`, the configuration shared between calls;
* :mod:`.session` -- :class:`OpenAIRealtimeSession`, one call (reader task, reconnect, flow control);
* :mod:`.dispatch` -- server events -> engine events;
* :mod:`.events` -- client events (pure functions);
* :mod:`.connection` -- opening a socket and configuring the session, with deadlines;
* :mod:`.formats` -- GA audio formats <-> :class:`AudioFormat`.
"""

from patter_openai.realtime.engine import OpenAIRealtime
from patter_openai.realtime.events import DEFAULT_SAY_TEMPLATE
from patter_openai.realtime.session import OpenAIRealtimeSession

__all__ = ["DEFAULT_SAY_TEMPLATE", "OpenAIRealtime", "OpenAIRealtimeSession"]
