"""`kdsearch replay` that does not reproduce a trial says what the records point to."""

import pandas as pd

from kdsearch.verbs.replay import why_it_differs


def test_a_resumed_trial_is_named_as_the_likely_cause():
    recorded = pd.DataFrame({"epoch": [1, 2, 3], "device": ["cpu"] * 3, "resumed_from_epoch": [None, None, 2.0]})
    (reason,) = why_it_differs(recorded)
    assert "resumed from its checkpoint of epoch 2" in reason


def test_a_gpu_trial_is_named_and_an_unexplained_gap_says_so():
    gpu = pd.DataFrame({"epoch": [1], "device": ["cuda"]})
    assert "trained on cuda" in why_it_differs(gpu)[0]
    plain = pd.DataFrame({"epoch": [1], "device": ["cpu"]})
    assert "changed since the search ran" in why_it_differs(plain)[0]


def test_a_packed_trial_names_its_pack_and_a_shared_order():
    packed = pd.DataFrame({"epoch": [1, 2], "device": ["cpu"] * 2, "packed": [1, 1], "pack_size": [3, 2],
                           "pack_shares_batches": [1, 1]})
    pack, order = why_it_differs(packed)
    assert "pack (3 students at most" in pack and "dropout" in pack
    assert "shared its batch order" in order
    alone = pd.DataFrame({"epoch": [1], "device": ["cpu"], "packed": [0], "pack_shares_batches": [0]})
    assert "changed since the search ran" in why_it_differs(alone)[0]
