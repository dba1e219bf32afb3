"""Local fakes of the OpenAI services, shipped for tests, end-to-end runs and load benchmarks.

* :class:`FakeRealtimeServer` -- the Realtime WebSocket (GA protocol, PROTOCOLS §3), scripted with
  :class:`FakeReply` / :class:`FakeToolCall`; validates every client event against the GA shapes;
* :class:`FakeOpenAIHTTP` -- Chat Completions SSE (:class:`ChatScript`), ``/audio/speech`` and
  ``/audio/transcriptions``;
* :func:`ga_problems` -- the GA client-event check on its own;
* :class:`EventCollector` -- drains an engine session's events in a task; wait for some with a timeout.

Both bind 127.0.0.1 on a free port and expose ``base_url`` to pass to the providers::

    async with FakeRealtimeServer() as fake:
        engine = OpenAIRealtime(api_key="sk-test", base_url=fake.base_url)

The knobs (failure injection) are listed in each class's module docstring.
"""

from patter_openai.testing.collect import EventCollector
from patter_openai.testing.ga_schema import problems as ga_problems
from patter_openai.testing.http_fake import ChatScript, FakeOpenAIHTTP, UploadedAudio
from patter_openai.testing.http_server import RecordedRequest
from patter_openai.testing.realtime_conn import FakeRealtimeConnection
from patter_openai.testing.realtime_fake import FakeRealtimeServer
from patter_openai.testing.scripts import FakeReply, FakeToolCall

__all__ = [
    "ChatScript",
    "EventCollector",
    "FakeOpenAIHTTP",
    "FakeRealtimeConnection",
    "FakeRealtimeServer",
    "FakeReply",
    "FakeToolCall",
    "RecordedRequest",
    "UploadedAudio",
    "ga_problems",
]
