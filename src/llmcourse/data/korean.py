"""Korean particles (조사) that depend on the last sound of the word before them.

Korean writes *Mina + topic particle* as 미나는 but *Jun + topic particle* as 준은: the
particle has one form after a syllable that ends in a consonant (받침, *jongseong*) and another
after a vowel. A Hangul syllable U+AC00..U+D7A3 is built as ``0xAC00 + (initial*21 + vowel)*28
+ final``, so its final consonant is ``(code - 0xAC00) % 28`` (0 means none). The instrumental
particle 으로/로 is special: a final ㄹ takes 로 (서울로, 연필로), like a vowel.

>>> attach_particle("미나", "은/는"), attach_particle("준", "은/는")
('미나는', '준은')
>>> attach_particle("서울", "으로/로"), attach_particle("집", "으로/로")
('서울로', '집으로')

Used by the Korean rendering of the story corpus (:mod:`llmcourse.data`), which Chapter 01 —
tokenization compares with the English text and Chapter 10 — encoder_decoder translates to.
"""

from __future__ import annotations

__all__ = ["PARTICLES", "final_consonant", "has_final_consonant", "korean_particle", "attach_particle"]

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # index of ㄹ among the 28 possible final consonants (0 = none)

#: Particle pairs: ``"form after a consonant/form after a vowel"`` (either order is accepted).
PARTICLES: dict[str, tuple[str, str]] = {
    "은/는": ("은", "는"),  # topic
    "이/가": ("이", "가"),  # subject
    "을/를": ("을", "를"),  # object
    "과/와": ("과", "와"),  # "and, with"
    "으로/로": ("으로", "로"),  # "to, with, by" (ㄹ counts as a vowel here)
    "아/야": ("아", "야"),  # calling someone
    "이나/나": ("이나", "나"),  # "or"
    "이랑/랑": ("이랑", "랑"),  # "and, with" (spoken)
    "이라는/라는": ("이라는", "라는"),  # "called ..."
    "이에요/예요": ("이에요", "예요"),  # "is ..." (polite)
    "이었어요/였어요": ("이었어요", "였어요"),  # "was ..." (polite)
}
_LOOKUP = {**PARTICLES, **{f"{v}/{c}": (c, v) for c, v in PARTICLES.values()}}


def final_consonant(syllable: str) -> int:
    """Index (0–27) of the final consonant of one Hangul syllable; 0 when it ends in a vowel.

    >>> final_consonant("나"), final_consonant("준"), final_consonant("울")
    (0, 4, 8)
    """
    if len(syllable) != 1 or not _HANGUL_FIRST <= ord(syllable) <= _HANGUL_LAST:
        raise ValueError(f"expected one Hangul syllable (가..힣), got {syllable!r}")
    return (ord(syllable) - _HANGUL_FIRST) % 28


def has_final_consonant(word: str) -> bool:
    """Whether ``word`` ends in a Hangul syllable with a final consonant (받침).

    >>> has_final_consonant("미나"), has_final_consonant("준")
    (False, True)
    """
    if not word:
        raise ValueError("expected a Korean word ending in a Hangul syllable, got an empty string")
    try:
        return final_consonant(word[-1]) != 0
    except ValueError:
        raise ValueError(f"expected a Korean word ending in a Hangul syllable, got {word!r}") from None


def korean_particle(word: str, particle: str) -> str:
    """The form of ``particle`` (a pair such as ``"은/는"``) that follows ``word``.

    >>> korean_particle("미나", "이/가"), korean_particle("준", "을/를"), korean_particle("연필", "으로/로")
    ('가', '을', '로')
    """
    if particle not in _LOOKUP:
        known = ", ".join(PARTICLES)
        raise ValueError(f"unknown particle pair {particle!r}; expected one of: {known}")
    after_consonant, after_vowel = _LOOKUP[particle]
    if not has_final_consonant(word):
        return after_vowel
    if after_consonant == "으로" and final_consonant(word[-1]) == _RIEUL:
        return after_vowel
    return after_consonant


def attach_particle(word: str, particle: str) -> str:
    """``word`` followed by the right form of ``particle``.

    >>> attach_particle("미나", "을/를"), attach_particle("준", "이/가"), attach_particle("사과", "과/와")
    ('미나를', '준이', '사과와')
    """
    return word + korean_particle(word, particle)
