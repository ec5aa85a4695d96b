"""A small *synchronous* template grammar: English and Korean side by side, sampled and parsed.

The story corpus (:mod:`llmcourse.data.stories`) is written with this machinery. A **set** is
a named list of weighted **entries**; an entry is an English template with its Korean twin::

    "filler": [("{subj.cap} ate {food} {meal}.", "{subj:은/는} {meal} {food:을/를} 먹었어요.")]

English placeholders, read left to right, are random choices or look-ups in a **memory**:

=============================  =============================================================
``{food}``                     choose an entry of the set ``food`` and write it
``{food#2}``                   a second, independent choice from ``food`` (``#tag`` = new slot)
``{color.a}``                  write the chosen entry's form ``a`` ("a red", "an orange");
                               every plain word also has ``cap`` ("Red") and ``A`` ("A red")
``{color.a=C}``                ... and remember the entry under the key ``C``
``{name=F|not:H}``             choose among entries other than the one remembered as ``H``
``{role|fits:H}``              only entries whose gender tag ``g`` fits ``H``'s (``any`` fits all)
``{C}``, ``{H.his}``           (capitalised key) write a remembered entry, in some form
=============================  =============================================================

Korean placeholders name the same slots (``{food}``, ``{food#2}``) or keys (``{H}``) and may
add a particle pair, ``{food:을/를}``, attached by :func:`~llmcourse.data.korean.attach_particle`.
Korean word order is free, so a sentence can move from English SVO to Korean SOV.

Every random choice has a probability, so a text's probability is the product over the choices
that wrote it. :class:`Walker` writes text left to right (sampling, or replaying recorded
choices); :meth:`Grammar.match` runs the other way and finds *every* way a set can write the text
at a position, which is how :func:`llmcourse.data.logprob` scores any string exactly.

Used by Chapter 02 — language_models (the entropy floor) and every chapter that trains on stories.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmcourse.data.korean import attach_particle
from llmcourse.data.templates import LIT, PRONOUN_FORMS, REF, SLOT, Entry, Slot, _cap_nodes, build_entry

__all__ = ["Entry", "Grammar", "Walker", "PRONOUN_FORMS", "build_entry"]


class OptionView:
    """The entries a slot can choose right now, with log-probabilities and a first-letter index."""

    __slots__ = ("entries", "logps", "cum", "total", "by_first", "wild")

    def __init__(self, entries: list[Entry], first: list[frozenset | None]) -> None:
        keep = [i for i, e in enumerate(entries) if e.weight > 0]
        if not keep:
            raise ValueError("no entry with a positive weight to choose from")
        self.entries = tuple(entries[i] for i in keep)
        weights = [entries[i].weight for i in keep]
        self.total = math.fsum(weights)
        self.logps = tuple(math.log(w / self.total) for w in weights)
        self.cum, acc = [], 0.0
        for w in weights:
            acc += w
            self.cum.append(acc)
        firsts = [first[i] for i in keep]
        self.wild = tuple(i for i, f in enumerate(firsts) if f is None)
        chars = set().union(*(f for f in firsts if f is not None))
        self.by_first = {c: tuple(i for i, f in enumerate(firsts) if f is None or c in f) for c in chars}

    def sample(self, rng: random.Random) -> int:
        """Index of an entry drawn with probability proportional to its weight."""
        return min(bisect.bisect_right(self.cum, rng.random() * self.total), len(self.cum) - 1)

    def candidates(self, text: str, pos: int) -> tuple[int, ...]:
        """Indices of entries that could start writing ``text`` at ``pos``."""
        return self.by_first.get(text[pos], self.wild) if pos < len(text) else self.wild


def _fits(a: Entry, b: Entry) -> bool:
    ga, gb = a.tags.get("g", "any"), b.tags.get("g", "any")
    return ga == "any" or gb == "any" or ga == gb


class Grammar:
    """A checked set of sets; gives each slot its :class:`OptionView` and parses text.

    ``sets`` maps set names to lists of entry specs (see :func:`build_entry`).
    """

    def __init__(self, sets: Mapping[str, Sequence[Sequence[Any]]]) -> None:
        self.sets: dict[str, list[Entry]] = {name: [build_entry(name, spec) for spec in specs]
                                             for name, specs in sets.items()}
        self._first: dict[tuple[str, str], frozenset | None] = {}
        self._views: dict[tuple, OptionView] = {}
        for name, entries in self.sets.items():
            if not entries:
                raise ValueError(f"set {name!r} is empty")
            seen: set[str] = set()
            for e in entries:
                if e.label in seen:
                    raise ValueError(f"set {name!r} has the entry {e.label!r} twice")
                seen.add(e.label)
                if e.en_nodes is not None:
                    self._check(e.en_nodes[""], e)

    def _check(self, nodes: tuple, entry: Entry) -> None:
        where = f"set {entry.set_name!r}, entry {entry.label!r}"
        if not nodes:
            raise ValueError(f"{where}: empty template")
        uids = {n[1].uid for n in nodes if n[0] == SLOT}
        for n in entry.ko_nodes:
            if n[0] == SLOT and n[1] not in uids:
                raise ValueError(f"{where}: the Korean template names the slot {n[1]!r}, "
                                 f"which the English template does not have ({sorted(uids)})")
        for n in nodes:
            if n[0] != SLOT:
                continue
            slot = n[1]
            if slot.set_name not in self.sets:
                raise ValueError(f"{where}: unknown set {slot.set_name!r}")
            for option in self.sets[slot.set_name]:
                forms = option.en if option.en is not None else option.en_nodes
                if slot.attr == "cap" and slot.attr not in forms and option.en is None:
                    forms["cap"] = _cap_nodes(forms[""], f"set {option.set_name!r}, entry {option.label!r}")
                    self._check(forms["cap"], option)
                if slot.attr not in forms:
                    raise ValueError(f"{where}: entry {option.label!r} of set {slot.set_name!r} has no "
                                     f"form {slot.attr!r} (it has {sorted(forms)})")
                if slot.store and option.en is None:
                    raise ValueError(f"{where}: only plain words can be remembered, not {option.label!r}")

    # -- option views ------------------------------------------------------------------------
    def first_chars(self, entry: Entry, attr: str) -> frozenset | None:
        """Letters that ``entry`` (in form ``attr``) can start with; ``None`` if unknown."""
        if entry.en is not None:
            s = entry.en[attr]
            return frozenset(s[0]) if s else None
        first = entry.en_nodes[attr][0] if entry.en_nodes[attr] else None
        if first is None or first[0] == REF:
            return None
        if first[0] == LIT:
            return frozenset(first[1][0])
        key = (first[1].set_name, first[1].attr)
        if key not in self._first:
            self._first[key] = None  # guards against a set that starts with itself
            parts = [self.first_chars(e, first[1].attr) for e in self.sets[key[0]]]
            self._first[key] = None if any(p is None for p in parts) else frozenset().union(*parts)
        return self._first[key]

    def view(self, set_name: str, attr: str = "", filter: tuple[str, str] | None = None,
             mem: Mapping[str, Any] | None = None) -> OptionView:
        """The :class:`OptionView` of ``set_name`` in form ``attr``, after ``filter`` given ``mem``."""
        other = mem[filter[1]] if filter else None
        key = (set_name, attr, filter, id(other))
        v = self._views.get(key)
        if v is None:
            entries = self.sets[set_name]
            if filter:
                kind = filter[0]
                entries = [e for e in entries if (e is not other) if kind == "not" or _fits(e, other)]
            v = OptionView(entries, [self.first_chars(e, attr) for e in entries])
            self._views[key] = v
        return v

    # -- parsing ------------------------------------------------------------------------------
    def match(self, set_name: str, text: str, pos: int, mem: dict[str, Any], lp: float,
              trace: Any) -> list[tuple[int, float, dict[str, Any], Any]]:
        """Every way one entry of ``set_name`` writes ``text`` from ``pos``.

        Returns ``(end, lp, mem, trace)`` per derivation: the log-probability ``lp`` plus that of
        every choice, the memory after it, and the choice indices pushed onto ``trace`` (a linked
        list of ``(index, rest)`` pairs).
        """
        out: list = []
        self._match(((SLOT, Slot(set_name, set_name, "", None, None)),), 0, None, text, pos, mem, lp, trace, out)
        return out

    def _match(self, nodes: tuple, k: int, cont: Any, text: str, pos: int, mem: dict, lp: float,
               trace: Any, out: list) -> None:
        while True:
            if k == len(nodes):
                if cont is None:
                    out.append((pos, lp, mem, trace))
                    return
                (nodes, k), cont = cont
                continue
            node = nodes[k]
            if node[0] == LIT:
                if not text.startswith(node[1], pos):
                    return
                pos += len(node[1])
                k += 1
                continue
            if node[0] == REF:
                entry = mem.get(node[1])
                if entry is None:
                    return
                s = entry.en[node[2]]
                if not text.startswith(s, pos):
                    return
                pos += len(s)
                k += 1
                continue
            slot = node[1]
            if slot.filter and slot.filter[1] not in mem:
                return
            view = self.view(slot.set_name, slot.attr, slot.filter, mem)
            for i in view.candidates(text, pos):
                e = view.entries[i]
                if e.en is not None:
                    s = e.en[slot.attr]
                    if not text.startswith(s, pos):
                        continue
                mem2 = mem
                if slot.store or e.sets:
                    mem2 = dict(mem)
                    if slot.store:
                        mem2[slot.store] = e
                    mem2.update(e.sets)
                if e.en is not None:
                    self._match(nodes, k + 1, cont, text, pos + len(s), mem2, lp + view.logps[i], (i, trace), out)
                else:
                    self._match(e.en_nodes[slot.attr], 0, ((nodes, k + 1), cont), text, pos, mem2,
                                lp + view.logps[i], (i, trace), out)
            return


class Walker:
    """Writes English text left to right, drawing each choice from ``rng`` or replaying ``forced``.

    It keeps the memory, the running log-probability ``lp``, the list of choice indices
    ``trace``, the text written so far (``parts``, ``pos``) and, for the memory keys in
    ``tracked``, where each was introduced or repeated (``events``: ``(kind, key, start, end)``
    with ``kind`` ``"set"`` or ``"ref"``). With ``korean=True`` each sentence also gets its Korean.
    """

    def __init__(self, grammar: Grammar, rng: random.Random | None = None, forced: Iterator[int] | None = None,
                 tracked: frozenset[str] = frozenset(), korean: bool = False) -> None:
        if (rng is None) == (forced is None):
            raise ValueError("give exactly one of rng (to sample) or forced (to replay)")
        self.g, self.rng, self.forced, self.tracked, self.korean = grammar, rng, forced, tracked, korean
        self.mem: dict[str, Any] = {}
        self.parts: list[str] = []
        self.pos = 0
        self.lp = 0.0
        self.trace: list[int] = []
        self.events: list[tuple[str, str, int, int]] = []

    def emit(self, s: str) -> None:
        """Append ``s`` to the text."""
        self.parts.append(s)
        self.pos += len(s)

    def choose(self, view: OptionView) -> int:
        """Draw (or replay) one index of ``view``, recording it and adding its log-probability."""
        i = view.sample(self.rng) if self.forced is None else next(self.forced)
        self.trace.append(i)
        self.lp += view.logps[i]
        return i

    def sentence(self, set_name: str) -> tuple[str, str | None]:
        """Write one entry of ``set_name``; return its English and (if asked) Korean text."""
        start = self.pos
        tree: dict | None = {} if self.korean else None
        self._walk(((SLOT, Slot(set_name, "_", "", None, None)),), tree)
        english = "".join(self.parts)[start:] if self.korean else ""
        if tree is None:
            return english, None
        entry, sub = tree["_"]
        korean = re.sub(r" {2,}", " ", self._korean(entry, "", sub)).strip()
        return english, korean

    def _walk(self, nodes: tuple, tree: dict | None) -> None:
        for node in nodes:
            if node[0] == LIT:
                self.emit(node[1])
            elif node[0] == REF:
                entry = self.mem[node[1]]
                s = entry.en[node[2]]
                if node[1] in self.tracked:
                    self.events.append(("ref", node[1], self.pos + len(s) - len(entry.en[""]), self.pos + len(s)))
                self.emit(s)
            else:
                slot = node[1]
                view = self.g.view(slot.set_name, slot.attr, slot.filter, self.mem)
                e = view.entries[self.choose(view)]
                if slot.store:
                    self.mem[slot.store] = e
                if e.sets:
                    self.mem.update(e.sets)
                sub = None
                if e.en is not None:
                    s = e.en[slot.attr]
                    if slot.store in self.tracked:
                        self.events.append(("set", slot.store, self.pos + len(s) - len(e.en[""]), self.pos + len(s)))
                    self.emit(s)
                else:
                    sub = {} if tree is not None else None
                    self._walk(e.en_nodes[slot.attr], sub)
                if tree is not None:
                    tree[slot.uid] = (e, sub)

    def _korean(self, entry: Entry, attr: str, tree: dict | None) -> str:
        if entry.ko_nodes is None:
            return entry.ko[attr]
        out = []
        for node in entry.ko_nodes:
            if node[0] == LIT:
                out.append(node[1])
                continue
            if node[0] == REF:
                s = self.mem[node[1]].ko[node[2]]
            else:
                child, sub = tree[node[1]]
                s = self._korean(child, node[2], sub)
            out.append(attach_particle(s.rstrip(), node[3]) + s[len(s.rstrip()):] if node[3] else s)
        return "".join(out)
