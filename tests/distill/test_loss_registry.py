"""Registry: names from the YAML, duplicates refused, errors naming the `distill.*` field."""

import pytest

from kdsearch.distill import LOSSES, KDLoss, build_loss, register_loss
from kdsearch.errors import SpaceError
from kdsearch.models import DISTILLED_PAIRS


def test_builtin_losses_are_registered_by_import():
    assert {"edam", "logit"} <= set(LOSSES)
    assert LOSSES["edam"].name == "edam"


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        @register_loss("logit")
        class Another(KDLoss):
            pass


def test_register_then_build_a_new_loss():
    try:
        @register_loss("_test_zero")
        class Zero(KDLoss):
            levels = frozenset({"final"})

            def __init__(self, scale: float = 1.0):
                super().__init__()
                self.scale = scale

        assert build_loss("_test_zero", scale=2.0).scale == 2.0
    finally:
        LOSSES.pop("_test_zero", None)


def test_unknown_method_names_the_field_and_lists_choices():
    with pytest.raises(SpaceError) as err:
        build_loss("edma")
    assert err.value.field == "distill.method"
    assert "did you mean 'edam'" in err.value.message and "logit" in err.value.message


def test_unknown_option_names_the_field():
    with pytest.raises(SpaceError) as err:
        build_loss("logit", temprature=2.0)
    assert err.value.field == "distill.temprature"
    assert "did you mean 'temperature'" in err.value.message


def test_missing_required_option():
    with pytest.raises(SpaceError) as err:
        build_loss("edam")
    assert err.value.field == "distill.pairs"


@pytest.mark.parametrize("options,field", [
    ({"temperature": 0}, "distill.temperature"),
    ({"direction": "student_to_teacher"}, "distill.direction"),
    ({"heads": "max"}, "distill.heads"),
    ({"pairs": {}}, "distill.pairs"),
])
def test_bad_values_name_the_option(options, field):
    with pytest.raises(SpaceError) as err:
        build_loss("edam", **{"pairs": DISTILLED_PAIRS[5], **options})
    assert err.value.field == field


def test_optional_hooks_are_declared_no_ops_on_the_base_class():
    # Callers bind every loss and check every training-set size without probing for the hooks:
    # a loss that needs neither (logit KD) inherits the base class's no-ops.
    loss = build_loss("logit", temperature=2.0)
    assert type(loss).bind is KDLoss.bind and type(loss).check_train_size is KDLoss.check_train_size
    assert loss.bind(student=None, teacher=None, n_train=3, labels=None) is None
    assert loss.check_train_size(1) is None


def test_option_names_and_options_for_read_the_loss_signatures():
    from kdsearch.distill import option_names, options_for

    assert "temperature" in option_names() and "pairs" not in option_names()
    section = {"method": "logit", "level": "final", "pairs": None, "temperature": 3.0, "direction": "x"}
    assert options_for("logit", section) == {"temperature": 3.0}
