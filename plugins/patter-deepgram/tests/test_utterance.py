"""The Results/UtteranceEnd -> Transcript mapping: exactly one end of utterance per utterance."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from patter_deepgram._utterance import UtteranceAssembler

from patter_core.interfaces.stt import Transcript


def results(
    text: str,
    *,
    is_final: bool = True,
    speech_final: bool = False,
    from_finalize: bool = False,
    **alternative: Any,
) -> dict[str, Any]:
    return {
        "type": "Results",
        "is_final": is_final,
        "speech_final": speech_final,
        "from_finalize": from_finalize,
        "channel": {"alternatives": [{"transcript": text, "confidence": 0.9, **alternative}]},
    }


def test_speech_final_twin_and_utterance_end_close_once() -> None:
    a = UtteranceAssembler()
    assert a.results(results("hel", is_final=False)) == [Transcript("hel", final=False, confidence=0.9)]
    assert a.results(results("hello")) == [Transcript("hello", final=True, confidence=0.9)]
    assert a.results(results("there", speech_final=True)) == [
        Transcript("there", final=True, end_of_utterance=True, confidence=0.9)
    ]
    assert a.results(results("", speech_final=True)) == []  # the empty twin
    assert a.utterance_end() == []  # and the fallback after it


def test_empty_speech_final_closes_open_text() -> None:
    a = UtteranceAssembler()
    a.results(results("yes"))
    assert a.results(results(" ", speech_final=True)) == [Transcript("", final=True, end_of_utterance=True)]


def test_utterance_end_closes_when_endpointing_did_not() -> None:
    a = UtteranceAssembler()
    a.results(results("noisy line"))
    assert a.utterance_end() == [Transcript("", final=True, end_of_utterance=True)]
    assert a.utterance_end() == []


def test_from_finalize_ends_the_utterance() -> None:
    a = UtteranceAssembler()
    assert a.results(results("book a table", from_finalize=True)) == [
        Transcript("book a table", final=True, end_of_utterance=True, confidence=0.9)
    ]
    assert a.results(results("", from_finalize=True)) == []  # a Finalize with nothing open says nothing


def test_empty_and_language() -> None:
    a = UtteranceAssembler()
    assert a.results(results("", is_final=False)) == []
    assert a.results(results("", is_final=True)) == []
    assert a.results(results("hola", languages=["es"])) == [
        Transcript("hola", final=True, confidence=0.9, language="es")
    ]
    assert a.results({"channel": {"alternatives": []}, "is_final": True}) == []


@pytest.mark.parametrize(
    "message", [{}, {"channel": {}}, {"channel": {"alternatives": [{"transcript": 5}]}}, {"channel": None}]
)
def test_malformed_results_raise_for_the_caller_to_log(message: dict[str, Any]) -> None:
    with pytest.raises((KeyError, TypeError, IndexError)):
        UtteranceAssembler().results(message)


_word = st.sampled_from(["hello", "there", "book", "a", "table", "for", "two", "please"])


@st.composite
def utterance(draw: st.DrawFn) -> tuple[list[str], list[dict[str, Any] | str]]:
    """One utterance as Deepgram may deliver it, with at least one end signal."""
    pieces = draw(st.lists(st.lists(_word, min_size=1, max_size=3).map(" ".join), min_size=1, max_size=3))
    messages: list[dict[str, Any] | str] = []
    for piece in pieces:
        messages += [results(piece, is_final=False)] * draw(st.integers(0, 2))
        messages.append(results(piece))
    end = draw(st.sampled_from(["speech_final", "twin", "utterance_end", "finalize", "twin+ue", "sf+ue"]))
    if end in ("speech_final", "sf+ue"):
        messages[-1] = results(pieces[-1], speech_final=True)
    if end.startswith("twin"):
        messages.append(results("", speech_final=True))
    if end == "finalize":
        messages.append(results("", from_finalize=True))
    if end.endswith("ue") or end == "utterance_end":
        messages.append("UtteranceEnd")
    messages += ["UtteranceEnd"] * draw(st.integers(0, 1)) + [results("", is_final=False)] * draw(
        st.integers(0, 1)
    )
    return pieces, messages


@settings(max_examples=200, deadline=None)
@given(st.lists(utterance(), min_size=1, max_size=5))
def test_any_delivery_gives_one_turn_per_utterance_with_its_text(utterances: list[Any]) -> None:
    a = UtteranceAssembler()
    turns: list[list[str]] = [[]]
    for _, messages in utterances:
        for message in messages:
            events = a.utterance_end() if isinstance(message, str) else a.results(message)
            for event in events:
                if event.final and event.text:
                    turns[-1].append(event.text)
                if event.end_of_utterance:
                    turns.append([])
    assert turns[-1] == []  # every utterance was closed
    assert [" ".join(t) for t in turns[:-1]] == [" ".join(pieces) for pieces, _ in utterances]
