"""custory.batching.bulk_gc: the collector's thresholds raised for a bulk block, then restored."""

import gc

import pytest

from custory.batching import BULK_GC_THRESHOLDS, bulk_gc


def test_the_thresholds_are_raised_inside_and_restored_after_nested_blocks():
    before = gc.get_threshold()
    assert before != BULK_GC_THRESHOLDS

    with bulk_gc():
        assert gc.get_threshold() == BULK_GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        with bulk_gc():
            assert gc.get_threshold() == BULK_GC_THRESHOLDS
        # The inner block's end restores nothing: the outer one is still running.
        assert gc.get_threshold() == BULK_GC_THRESHOLDS

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_an_error_inside_still_restores_the_thresholds():
    before = gc.get_threshold()

    with pytest.raises(RuntimeError), bulk_gc():
        raise RuntimeError("a batch failed")

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
