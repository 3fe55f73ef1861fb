"""The citizen view speaks both languages about every masking rule there is."""

from __future__ import annotations

from govbus.gateway.console.i18n import LABELS, RULES
from govbus.policy import MASK_RULES


def test_every_masking_rule_has_words_in_chinese_and_english() -> None:
    assert set(RULES) == set(MASK_RULES)
    for texts in [*RULES.values(), *LABELS.values()]:
        assert set(texts) == {"zh", "en"}
        assert all(texts.values())
