"""The templates of the story grammar (:mod:`llmcourse.data.grammar`): one entry's English and Korean, parsed.

An entry is an English template with its Korean twin; :func:`build_entry` parses both into node
tuples — literal text (``LIT``), a look-up of a remembered entry (``REF``) or a random choice
(``SLOT``) — checks that they name the same slots, and records its weight and labels. The
placeholder syntax is described in the grammar module.

>>> entry = build_entry("filler", ("{subj.cap} ate {food}.", "{subj:은/는} {food:을/를} 먹었어요."))
>>> [(kind, node if kind == LIT else node.set_name) for kind, node in entry.en_nodes[""]]
[(2, 'subj'), (0, ' ate '), (2, 'food'), (0, '.')]
>>> entry.ko_nodes[0]                                # a slot with its particle pair
(2, 'subj', '', '은/는')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LIT", "REF", "SLOT", "PRONOUN_FORMS", "Slot", "Entry", "build_entry"]

LIT, REF, SLOT = 0, 1, 2

#: English forms of each pronoun, looked up as attributes of a remembered name (``{H.his}``).
PRONOUN_FORMS: dict[str, dict[str, str]] = {
    "she": {"he": "she", "He": "She", "his": "her", "His": "Her", "him": "her",
            "he_was": "she was", "He_was": "She was"},
    "he": {"he": "he", "He": "He", "his": "his", "His": "His", "him": "him",
           "he_was": "he was", "He_was": "He was"},
    "they": {"he": "they", "He": "They", "his": "their", "His": "Their", "him": "them",
             "he_was": "they were", "He_was": "They were"},
}
_CAP_ATTR = {"": "cap", "a": "A", **{a: a[0].upper() + a[1:] for a in PRONOUN_FORMS["she"] if a.islower()}}

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_EN_SLOT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:#(?P<tag>\w+))?(?:\.(?P<attr>\w+))?"
                      r"(?:=(?P<store>[A-Z]\w*))?(?:\|(?P<kind>not|fits):(?P<key>[A-Z]\w*))?")
_KO_SLOT = re.compile(r"(?P<uid>[A-Za-z_][A-Za-z0-9_]*(?:#\w+)?)(?:\.(?P<attr>\w+))?(?::(?P<particle>[^{}:]+))?")


@dataclass(eq=False)
class Slot:
    """One random choice inside an English template (see the module docstring)."""

    set_name: str
    uid: str
    attr: str
    store: str | None
    filter: tuple[str, str] | None


class Entry:
    """One option of a set: English forms or template, Korean twin, weight, tags, memory effects."""

    __slots__ = ("set_name", "label", "en", "en_nodes", "ko", "ko_nodes", "tags", "sets", "weight")

    def __init__(self, set_name: str, label: str, en: dict[str, str] | None, en_nodes: dict[str, tuple] | None,
                 ko: dict[str, str] | None, ko_nodes: tuple | None, tags: dict[str, Any],
                 sets: tuple[tuple[str, str], ...], weight: float) -> None:
        self.set_name, self.label, self.en, self.en_nodes = set_name, label, en, en_nodes
        self.ko, self.ko_nodes, self.tags, self.sets, self.weight = ko, ko_nodes, tags, sets, weight

    def __repr__(self) -> str:
        return f"Entry({self.set_name}:{self.label!r})"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _split_template(template: str, placeholder) -> tuple:
    """Literal text between placeholders as ``(LIT, text)`` nodes; ``placeholder(match, nodes)`` makes the others."""
    nodes: list[tuple] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        if m.start() > pos:
            nodes.append((LIT, template[pos:m.start()]))
        nodes.append(placeholder(m, nodes))
        pos = m.end()
    if pos < len(template):
        nodes.append((LIT, template[pos:]))
    return tuple(nodes)


def _parse_en(template: str, where: str) -> tuple:
    def placeholder(m, nodes: list[tuple]) -> tuple:
        spec = _EN_SLOT.fullmatch(m.group(1))
        if spec is None:
            raise ValueError(f"{where}: cannot read the placeholder {m.group(0)!r} in {template!r}")
        name, tag, attr = spec["name"], spec["tag"], spec["attr"] or ""
        if name[0].isupper():
            if tag or spec["store"] or spec["kind"]:
                raise ValueError(f"{where}: {m.group(0)!r} reads the memory key {name!r}; it cannot "
                                 "store, filter or carry a #tag")
            return (REF, name, attr)
        filt = (spec["kind"], spec["key"]) if spec["kind"] else None
        uid = f"{name}#{tag}" if tag else name
        if any(n[0] == SLOT and n[1].uid == uid for n in nodes):
            raise ValueError(f"{where}: the slot {uid!r} appears twice in {template!r}; add a #tag")
        return (SLOT, Slot(name, uid, attr, spec["store"], filt))

    return _split_template(template, placeholder)


def _parse_ko(template: str, where: str) -> tuple:
    def placeholder(m, nodes: list[tuple]) -> tuple:
        spec = _KO_SLOT.fullmatch(m.group(1))
        if spec is None:
            raise ValueError(f"{where}: cannot read the Korean placeholder {m.group(0)!r} in {template!r}")
        kind = REF if spec["uid"][0].isupper() else SLOT
        return (kind, spec["uid"], spec["attr"] or "", spec["particle"])

    return _split_template(template, placeholder)


def _cap_nodes(nodes: tuple, where: str) -> tuple:
    """The same template with its first letter capitalised (for the ``cap`` form)."""
    first = nodes[0]
    if first[0] == LIT:
        head = (LIT, first[1][:1].upper() + first[1][1:])
    elif first[0] == REF and first[2] in _CAP_ATTR:
        head = (REF, first[1], _CAP_ATTR[first[2]])
    elif first[0] == SLOT and first[1].attr in _CAP_ATTR:
        s = first[1]
        head = (SLOT, Slot(s.set_name, s.uid, _CAP_ATTR[s.attr], s.store, s.filter))
    else:
        raise ValueError(f"{where}: cannot capitalise a template that starts with {first}")
    return (head,) + nodes[1:]


def build_entry(set_name: str, spec: Sequence[Any]) -> Entry:
    """Build an :class:`Entry` from ``(english, korean)`` or ``(english, korean, options)``.

    ``options`` may hold ``weight`` (default 1), ``tags`` (``{"g": "she"}`` a gender, plus
    ``"name": True`` for a name, whose pronouns become forms: ``{H.his}``), ``sets``
    (memory effects, e.g. ``{"arc": "storm"}``), ``label``, and extra plain forms ``en_forms`` /
    ``ko_forms`` (e.g. ``{"at": "by the river"}``).

    >>> e = build_entry("color", ("orange", "주황"))
    >>> e.en["a"], e.en["A"], e.ko[""]
    ('an orange', 'An orange', '주황')
    """
    if len(spec) not in (2, 3):
        raise ValueError(f"set {set_name!r}: an entry is (english, korean[, options]), got {spec!r}")
    en, ko = spec[0], spec[1]
    opts = dict(spec[2]) if len(spec) == 3 else {}
    where = f"set {set_name!r}, entry {en!r}"
    weight = opts.pop("weight", 1.0)
    tags = opts.pop("tags", {})
    sets = tuple(opts.pop("sets", {}).items())
    label = opts.pop("label", en)
    en_extra, ko_extra = opts.pop("en_forms", {}), opts.pop("ko_forms", {})
    if opts:
        raise ValueError(f"{where}: unknown options {sorted(opts)}")
    if "{" in en or "{" in ko:
        if en_extra or ko_extra:
            raise ValueError(f"{where}: extra forms only exist for plain words")
        en_nodes = {"": _parse_en(en, where)}  # the "cap" form is made when a slot asks for it
        return Entry(set_name, label, None, en_nodes, None, _parse_ko(ko, where), tags, sets, weight)
    forms = {"": en, "cap": en[:1].upper() + en[1:]}
    if en:
        forms["a"] = f"{_article(en)} {en}"
        forms["A"] = forms["a"][:1].upper() + forms["a"][1:]
    if tags.get("name") and tags.get("g") in PRONOUN_FORMS:  # a name: its pronouns are forms too
        forms.update(PRONOUN_FORMS[tags["g"]])
        ko_extra = {**{a: ko for a in PRONOUN_FORMS[tags["g"]]}, **ko_extra}
    forms.update(en_extra)
    return Entry(set_name, label, forms, None, {"": ko, **ko_extra}, None, tags, sets, weight)
