"""How the pages name things in running text: what one image of a dataset is called, and a
class name with its article."""

from __future__ import annotations


# What one image of a dataset is called on the pages: "Test digit #" is wrong for clothing.
ITEM_NOUNS = {"mnist": "digit", "fashion-mnist": "item"}


def item_noun(dataset: str, plural: bool = False) -> str:
    """'digit' for MNIST, 'item' for Fashion-MNIST, 'image' for anything else (+s if plural)."""
    word = ITEM_NOUNS.get(dataset, "image")
    return word + "s" if plural else word


def with_article(name: str) -> str:
    """A class name with its indefinite article, in running text: 'a 7', 'an 8', 'an ankle
    boot', 'a T-shirt/top' (acronym-like names such as 'T-shirt' keep their capital)."""
    name = str(name).strip()
    if not name:
        return name
    if name.isdigit():  # read aloud: "eight", "eleven", "eighteen" take "an"
        vowel = name.startswith("8") or (len(name) in (2, 5) and name[:2] in ("11", "18"))
        return f"{'an' if vowel else 'a'} {name}"
    if len(name) > 1 and name[1].islower():
        name = name[0].lower() + name[1:]
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
