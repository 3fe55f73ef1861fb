"""The delivered schema: only granted fields, typed by rule, and one fingerprint per
(subscription, rules) so a subscriber is always served the schema that says how it was masked."""

from __future__ import annotations

from govbus.schemas.catalogue import default_catalogue
from govbus.schemas.codec import AvroCodec
from govbus.schemas.projection import projected_schema

EVENT = default_catalogue().latest("gov.market_regulation.enterprise_registered")


def rules_of(schema: dict[str, object]) -> dict[str, str]:
    fields = schema["fields"]
    assert isinstance(fields, list)
    return {f["name"]: f["govbus.mask"] for f in fields}


def test_same_shape_different_masks_get_different_fingerprints_and_keep_their_rules() -> None:
    assert EVENT is not None
    # All string fields: clear and mask give the same Avro types, only the attributes differ.
    clear = {"credit_code": "clear", "legal_rep_name": "clear", "contact_phone": "clear"}
    masked = {"credit_code": "clear", "legal_rep_name": "mask", "contact_phone": "mask"}
    codec = AvroCodec()
    fp_clear = codec.register(projected_schema(EVENT, clear, "hrss-employer"))
    fp_masked = codec.register(projected_schema(EVENT, masked, "mi-employer"))
    fp_masked_renamed = codec.register(projected_schema(EVENT, masked, "hf-employer"))
    assert len({fp_clear, fp_masked, fp_masked_renamed}) == 3
    assert rules_of(codec.schema(fp_clear) or {}) == clear
    assert rules_of(codec.schema(fp_masked) or {}) == masked
    # One subscription whose rules change gets a new fingerprint too.
    assert codec.register(projected_schema(EVENT, clear, "mi-employer")) != fp_masked


def test_only_granted_fields_in_catalogue_order_and_redacted_is_null() -> None:
    assert EVENT is not None
    schema = projected_schema(EVENT, {"name": "clear", "credit_code": "redact"}, "x-sub")
    assert [f["name"] for f in schema["fields"]] == ["credit_code", "name"]
    assert schema["fields"][0]["type"] == "null"
    assert schema["fields"][1]["type"] == "string"


def test_the_subscriber_is_an_attribute_outside_the_fingerprint() -> None:
    """The gateway serves a schema only to its subscriber: the projection names it, and
    naming it changes no fingerprint (deliveries made before still decode)."""
    assert EVENT is not None
    rules = {"credit_code": "clear"}
    plain = projected_schema(EVENT, rules, "tax-reg")
    marked = projected_schema(EVENT, rules, "tax-reg", "tax")
    assert "govbus.subscriber" not in plain
    assert marked["govbus.subscriber"] == "tax"
    codec = AvroCodec()
    fp = codec.register(plain)
    assert codec.register(marked) == fp
    assert (codec.schema(fp) or {}).get("govbus.subscriber") == "tax"  # the latest is kept
