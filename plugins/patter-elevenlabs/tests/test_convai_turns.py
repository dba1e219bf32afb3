"""agent_response texts get the item_id of the audio they describe."""

from __future__ import annotations

from patter_elevenlabs._convai_turns import TurnTagger

from patter_core.interfaces.engine import AgentTranscript


def test_text_before_its_audio_is_released_just_before_it() -> None:
    t = TurnTagger()
    assert t.text("Hello.") == [] and t.holding
    assert t.audio(1) == [AgentTranscript("Hello.", item_id="1", final=True)]
    assert t.audio(1) == [] and not t.holding


def test_text_after_its_audio_started_takes_the_playing_id() -> None:
    t = TurnTagger()
    t.audio(4)
    assert t.text("Late.") == [AgentTranscript("Late.", item_id="4", final=True)]
    assert t.text("Next turn.") == [] and t.holding  # turn 4 already has its text
    assert t.audio(4) == [] and t.holding  # still turn 4: keep waiting
    assert t.audio(5) == [AgentTranscript("Next turn.", item_id="5", final=True)]


def test_boundaries_close_the_playing_turn() -> None:
    t = TurnTagger()
    t.audio(1)  # a turn with no text (interrupted before agent_response)
    assert t.boundary() == []
    assert t.text("After the interruption.") == []
    assert t.audio(2) == [AgentTranscript("After the interruption.", item_id="2", final=True)]


def test_flush_and_corrections() -> None:
    t = TurnTagger()
    t.text("No audio ever.")
    assert t.flush() == [AgentTranscript("No audio ever.", final=True)] and t.flush() == []
    t.text("Spoken.")
    t.audio(3)
    assert t.correction("Spo") == [AgentTranscript("Spo", item_id="3", final=True)]
    assert TurnTagger().correction("x") == [AgentTranscript("x", final=True)]
