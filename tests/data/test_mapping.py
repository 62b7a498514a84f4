"""The reviewed source -> class tables."""
from __future__ import annotations

from product_augment.classes import CLASS_ID, CLASS_NAMES
from product_augment.data import mapping


def test_tables_use_known_classes_and_no_name_is_both_used_and_excluded():
    assert set(mapping.SH3D_TABLE) <= set(CLASS_NAMES)
    assert set(mapping.EMOJI_TABLE) <= set(CLASS_NAMES)
    assert set(mapping.TYPICAL_HEIGHT_CM) == set(CLASS_NAMES)
    used = [n for rules in mapping.SH3D_TABLE.values() for names, _ in rules for n in names]
    assert not set(used) & set(mapping.SH3D_EXCLUDED)
    cps = [cp for cps in mapping.EMOJI_TABLE.values() for cp in cps]
    assert len(cps) == len(set(cps))


def test_sh3d_lookup_respects_categories_and_exclusions():
    assert mapping.sh3d_class("Armchair", "Office") == CLASS_ID["chair"]
    assert mapping.sh3d_class("Bamboo", "Living room") == CLASS_ID["plant"]
    assert mapping.sh3d_class("Bamboo", "Exterior") is None
    assert mapping.sh3d_class("Glass", "Kitchen") == CLASS_ID["cup"]
    assert mapping.sh3d_class("Glasses", "Miscellaneous") == CLASS_ID["glasses"]
    assert mapping.sh3d_class("Briefcase", "Bedroom") is None
    assert mapping.sh3d_class("Lamp", "Lights", "Blend Swap CC-0#lamp2") is None
    assert mapping.sh3d_class("Female", "Characters") is None


def test_emoji_lookup_ignores_variation_selector():
    assert mapping.emoji_class("1f576-fe0f") == CLASS_ID["glasses"]
    assert mapping.emoji_class("1F45F") == CLASS_ID["shoe"]
    assert mapping.emoji_class("1f600") is None
