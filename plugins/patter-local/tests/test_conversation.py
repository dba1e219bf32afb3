"""All four providers together, as the pipeline chains them: the caller's synthesised voice goes over
the phone path, the VAD cuts it, the STT transcribes it, and the brain books and hangs up."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
from patter_local import LocalLLM, LocalSTT, LocalTTS, LocalVAD
from patter_local.testing import phone_line

from patter_core.audio.format import PCM16_16K
from patter_core.interfaces.llm import ChatMessage, Role, TextDelta, ToolCallRequest, ToolSpec
from patter_core.interfaces.stt import STTConfig
from patter_core.interfaces.vad import VADEventType

BOOK = ToolSpec(
    name="book_appointment",
    description="Book an appointment.",
    parameters={"type": "object", "properties": {"day": {"type": "string"}, "time": {"type": "string"}}},
)
END = ToolSpec(name="end_call", description="Hang up.", parameters={"type": "object", "properties": {}})


async def test_spoken_booking_conversation_end_to_end(caller_tts: LocalTTS) -> None:
    lines = [
        "Hello, I'd like to book an appointment.",
        "Do you have anything on Tuesday?",
        "Three in the afternoon would be great.",
        "No, that's all. Goodbye.",
    ]
    stt, vad, llm = LocalSTT(), LocalVAD(), LocalLLM(today=dt.date(2025, 11, 25))
    stream = await stt.open_stream(STTConfig(format=PCM16_16K))
    detector = vad.create_stream(16000)
    events = stream.events()
    history = [ChatMessage(Role.SYSTEM, "You are a receptionist.")]
    calls: list[ToolCallRequest] = []
    try:
        for line in lines:
            audio = np.concatenate(
                [phone_line(caller_tts.synthesize_sync(line), 22050), np.zeros(16000, np.int16)]
            )
            for offset in range(0, audio.size, 320):
                frame = audio[offset : offset + 320]
                await stream.push_audio(frame.tobytes())
                for event in detector.process(frame):
                    if event.type is VADEventType.SPEECH_START:
                        await stream.start_of_speech()
                    else:
                        await stream.end_of_speech()
            heard = await anext(events)
            history.append(ChatMessage(Role.USER, heard.text))
            chunks = [c async for c in llm.stream(history, tools=(BOOK, END))]
            turn_calls = tuple(c for c in chunks if isinstance(c, ToolCallRequest))
            text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
            history.append(ChatMessage(Role.ASSISTANT, text, tool_calls=turn_calls))
            for call in turn_calls:
                calls.append(call)
                history.append(ChatMessage(Role.TOOL, "ok", tool_call_id=call.call_id, name=call.name))
                chunks = [c async for c in llm.stream(history, tools=(BOOK, END))]
                text = "".join(c.text for c in chunks if isinstance(c, TextDelta))
                history.append(ChatMessage(Role.ASSISTANT, text))
    finally:
        detector.close()
        await stream.aclose()
    assert [c.name for c in calls] == ["book_appointment", "end_call"], history
    assert json.loads(calls[0].arguments) == {"day": "Tuesday", "time": "15:00"}
    assert any(m.content.startswith("You're booked for Tuesday at 3 PM.") for m in history)
