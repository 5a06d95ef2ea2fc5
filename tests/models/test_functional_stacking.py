"""Students stacked with torch.func (one batched model for many trials) give each model's output.

Guards against buffers shared between modules: `named_buffers()` de-duplicates them, so
`functional_call` would silently leave one encoder without its mask (this produced NaN once).
"""

import copy
import warnings

import torch
from torch.func import functional_call, stack_module_state


def test_each_encoder_owns_its_buffers(make_student):
    student = make_student(5)  # "V<-V" and "V<-A" have the same (T_q, T_k) = (12, 12) masks
    ids = [id(b) for _, b in student.named_buffers(remove_duplicate=False)]
    assert len(ids) == len(set(ids))


def test_vmapped_students_match_each_student(make_student, batch):
    torch.manual_seed(0)
    students = [make_student(5).eval() for _ in range(3)]
    params, buffers = stack_module_state(students)
    template = copy.deepcopy(students[0]).to("meta").eval()
    vision = torch.stack([batch[2], batch[2].flip(0), batch[2] * 0.5])
    maps = frozenset({"V<-L"})

    def run(p, b, x):
        out = functional_call(template, (p, b), (x,), {"maps_for": maps})
        return out.logits, out.attn_scores["V<-L"][0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CPU SDPA has no batching rule: slow but correct
        logits, scores = torch.vmap(run)(params, buffers, vision)
    for i, student in enumerate(students):
        out = student(vision[i], maps_for=maps)
        assert torch.allclose(logits[i], out.logits, atol=1e-5)
        assert torch.equal(torch.isinf(scores[i]), torch.isinf(out.attn_scores["V<-L"][0]))
