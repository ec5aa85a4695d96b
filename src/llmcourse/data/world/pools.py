"""The invented words of the World: names and compound words that no model has read before.

Two families, built once per process from fixed syllable lists (no seed: a world only *draws*
from them):

* **Names** (capitalised): given names, surnames, town, river, pet and brand names, e.g.
  ``Brandel``, ``Kessomere``. They come from one *prefix-free* universe: no name is the start of
  another name, and none is the start of a capitalised word of the templates (``The``,
  ``River``, ``Bakery``...). A capital letter only starts a word, so a name can occur inside a
  text only as itself: a pet called ``Tollo`` cannot hide inside ``Tollomere``.
* **Compounds** (lower case): trades (``mossweigher``), animal species (``emberfinch``),
  colours (``fernblue``) and wares (``honeytwist``): a word from :data:`PARTS` and a word that
  says what it is. No compound lies inside another, nor inside the template text.

>>> p = pools()
>>> len(p["pet"]) >= 3000 and len(p["job"]) >= 2500
True
>>> any(b.startswith(a) for a, b in zip(sorted(p["pet"]), sorted(p["pet"])[1:]))
False
"""

from __future__ import annotations

import itertools
import random
import re
from collections import defaultdict
from functools import lru_cache

from llmcourse.data.world.render import template_text

__all__ = ["PARTS", "COMPOUND_ENDS", "NAME_SIZES", "pools"]

_ONSETS = ("b br d dr f fl g gr h j k kr l m n p pr r s sk st t tr th v w z qu sh "
           "bl cr gl sl sn sp").split()
_VOWELS = "a e i o u ae ai ea ei oa ou".split()
_MIDS = "l ll n nn r rr s ss th v m nd rn lv rd st sk mb nt rl ld ck sh rv z ff".split()
#: The endings of each kind of name, after an onset, a vowel and a middle consonant.
_NAME_ENDS = {
    "given": "a o en in on is el yn ra la ia wen ric dor mir ette ana ius ver ani".split(),
    "surname": "ick ett ow ley iss ard ock urn ace amy ell ington erly ant ax".split(),
    "town": "holt by mere wick ford stead bury ham ton thorpe mouth field gate dale moor brook".split(),
    "river": "el ey ow in an ett ul ora ais".split(),
    "pet": "y ie o kin let bo ster sy pip ums ette".split(),
    "brand": "ova ix ent ume orr ascot ivo ique elle".split(),
}
#: How many names of each kind the universe holds (a world draws from these, without repeats).
NAME_SIZES = {"given": 800, "surname": 2000, "town": 1500, "river": 1500, "pet": 4000, "brand": 2500}

#: First halves of the compound words (nature and materials).
PARTS = tuple("""moss ember frost cinder dusk fern flint gale hazel heather holly honey juniper larch maple
marsh mist oak pebble pine plum quartz reed rowan rust saffron sage salt sand shale slate sorrel storm
sun thistle thorn tide umber willow yarrow amber apple barley bramble briar clover copper coral cloud
dew elder fennel ginger gorse hail heath iron jasper kelp lichen linden meadow nettle nutmeg oat pepper
poppy quill rain rose rye sedge silt smoke snow spruce straw thyme tin walnut wheat wool zinc acorn
alder aspen basil bronze cedar chalk cherry cobalt crag dune elm fig flax frond lantern velvet""".split())
#: Second halves, one list per kind of compound.
COMPOUND_ENDS = {
    "job": """mender wright keeper smith weigher carver binder spinner tuner dyer grinder gatherer turner
warden caster picker cutter folder brewer tender monger setter weaver polisher stitcher counter sorter
tester""".split(),
    "species": """fox owl finch newt hare vole moth toad shrew stoat lark crab eel mole skink gecko otter
badger lynx heron beetle snail ferret marten pika tern loris tapir civet""".split(),
    "colour": """red blue green gold grey pink violet white black brown silver ochre teal crimson azure indigo
ivory jade lilac mauve olive russet sable sepia cream""".split(),
    "ware": """twist knot drop roll wheel braid cake loaf bun tart crisp pot lamp whistle top charm comb
spoon cup bell""".split(),
}

def _names(rng: random.Random, fixed: list[str]) -> dict[str, tuple[str, ...]]:
    """Draw the name universe: the kinds take turns, a candidate (4 letters or more) is kept only if
    it keeps the universe prefix-free: it starts no kept name and no ``fixed`` word, and no kept
    name starts it."""
    kept: set[str] = set()
    starts = {w[:i] for w in fixed for i in range(4, len(w) + 1)}  # every start (of 4+ letters) of a word
    out: dict[str, list[str]] = {kind: [] for kind in _NAME_ENDS}
    onsets, pick = _ONSETS + [""] * 4, (lambda seq: seq[int(rng.random() * len(seq))])  # some start with a vowel
    while any(len(out[k]) < NAME_SIZES[k] for k in out):
        for kind, ends in _NAME_ENDS.items():
            if len(out[kind]) >= NAME_SIZES[kind]:
                continue
            name = (pick(onsets) + pick(_VOWELS) + pick(_MIDS) + pick(ends)).capitalize()
            if len(name) < 4 or name in starts or any(name[:i] in kept for i in range(4, len(name))):
                continue
            kept.add(name)
            starts.update(name[:i] for i in range(4, len(name) + 1))
            out[kind].append(name)
    return {kind: tuple(names) for kind, names in out.items()}


def _compounds(template_text: str) -> dict[str, tuple[str, ...]]:
    """Every part + end compound that lies inside no other compound and inside no template word."""
    every = {kind: [p + e for p, e in itertools.product(PARTS, ends)] for kind, ends in COMPOUND_ENDS.items()}
    words = sorted({w for ws in every.values() for w in ws})
    inside = {a for a, b in zip(words, words[1:]) if b.startswith(a)}  # a prefix sorts just before
    by_start = defaultdict(list)  # first 6 letters → the compounds (every compound has at least 6)
    for word in words:
        by_start[word[:6]].append(word)
    inside |= {inner for w in words for i in range(1, len(w) - 5)
               for inner in by_start.get(w[i:i + 6], ()) if w.startswith(inner, i)}
    fixed = {w[i:j] for w in set(template_text.split()) for i in range(len(w)) for j in range(i + 6, len(w) + 1)}
    return {kind: tuple(w for w in ws if w not in inside and w not in fixed) for kind, ws in every.items()}


@lru_cache(maxsize=1)
def pools() -> dict[str, tuple[str, ...]]:
    """The invented words by kind: ``given``, ``surname``, ``town``, ``river``, ``pet``, ``brand``
    (names) and ``job``, ``species``, ``colour``, ``ware`` (compounds). Built once, always the same."""
    text = template_text()
    capitalised = re.findall(r"[A-Z][a-z]*", text)
    return {**_names(random.Random("llmcourse-world-names"), capitalised), **_compounds(text)}
