from __future__ import annotations

from patter_core.session.sentences import SentenceChunker, split_sentences


def test_sentences_are_released_as_soon_as_they_end() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Hello the") == []
    assert chunker.push("re. How are") == ["Hello there."]
    assert chunker.push(" you today? I") == ["How are you today?"]
    assert chunker.flush() == "I"


def test_abbreviations_initials_and_numbers_do_not_split() -> None:
    chunker = SentenceChunker()
    out = chunker.push("Dr. Smith sees J. Doe at 3.30 p.m. on Tuesday. It costs $4.50 total. ")
    assert out == ["Dr. Smith sees J. Doe at 3.30 p.m. on Tuesday.", "It costs $4.50 total."]


def test_long_runs_are_cut_at_commas() -> None:
    chunker = SentenceChunker(max_chars=40)
    out = chunker.push("one, two, three, four, five, six, seven, eight, nine, ten, eleven")
    assert out and all(len(s) <= 41 for s in out)


async def test_split_sentences_streams() -> None:
    async def pieces():
        for p in ["Sure", ". Let me ", "check!", " One moment"]:
            yield p

    assert [s async for s in split_sentences(pieces())] == ["Sure.", "Let me check!", "One moment"]
