"""The dataset's own nouns (ui/wording.py): 'a 7', 'an ankle boot', digits or items; the
pages of a Fashion-MNIST model never say "digit". Home's: tests/app/test_home.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest_helpers import FASHION, run_page


def test_with_article_and_item_noun() -> None:
    from ui.wording import item_noun, with_article

    assert [with_article(c) for c in ("7", "8", "11", "18", "80", "T-shirt/top", "Ankle boot",
                                      "Bag")] == \
        ["a 7", "an 8", "an 11", "an 18", "an 80", "a T-shirt/top", "an ankle boot", "a bag"]
    assert item_noun("mnist") == "digit" and item_noun("fashion-mnist", plural=True) == "items"
    assert item_noun("folder") == "image"


@pytest.mark.parametrize("page", ["pages/generate.py", "pages/reconstruct.py",
                                  "pages/scatter.py"])
def test_fashion_pages_speak_of_items_not_digits(empty_user_dir: Path, page: str) -> None:
    """'Test digit #' for clothing (issue 18): the pages use the dataset's own nouns."""
    at = run_page(page, FASHION)
    assert not at.exception
    if page.endswith("generate.py"):
        at.radio(key="gen_trav_around").set_value("a test digit's mean").run()
    if page.endswith("reconstruct.py"):
        at.radio(key="reconstruct_source").set_value("Draw a digit").run()
    texts = [w.label for w in at.main if getattr(w, "label", None)]
    texts += [e.value for kind in ("caption", "info", "markdown", "header", "subheader")
              for e in at.get(kind) if isinstance(e.value, str)]
    for w in (*at.radio, *at.multiselect):
        texts += [str(o) for o in w.options]
    assert texts and not [t for t in texts if "digit" in t.lower()], texts
