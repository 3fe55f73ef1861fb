"""The settings reference is generated from the model and kept in step; misspelt variables
are caught instead of silently ignored."""

from __future__ import annotations

from pathlib import Path

from govbus.settings_reference import env_names, mentioned, reference_markdown, unknown

ROOT = Path(__file__).resolve().parents[3]


def test_docs_configuration_md_is_the_generated_reference() -> None:
    assert (ROOT / "docs" / "configuration.md").read_text() == reference_markdown(), (
        "run: govbus config docs > docs/configuration.md"
    )


def test_every_setting_and_secret_file_variant_is_known() -> None:
    names = env_names()
    assert {"GOVBUS_KAFKA_BOOTSTRAP", "GOVBUS_PSEUDONYM_KEY", "GOVBUS_PSEUDONYM_KEY_FILE"} <= set(
        names
    )
    assert "GOVBUS_PARTITIONS_FILE" not in names  # only secrets read files
    assert all(names.values()), [n for n, d in names.items() if not d]  # each one documented


def test_a_misspelt_setting_is_caught() -> None:
    text = "env:\n  GOVBUS_KAFKA_BOOTSTRAP: k:9092\n  GOVBUS_BATCHSIZE: '200'\n  OTHER: x\n"
    assert unknown(mentioned(text)) == ["GOVBUS_BATCHSIZE"]
