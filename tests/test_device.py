"""The device rule (model.lm.device) and batches moving to it."""

from __future__ import annotations

import pytest
import torch

from model.errors import UserError
from model.lm.device import autocast_device_type, resolve_device
from model.tasks.base import IGNORE, Sample
from model.train.collate import collate

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only answers")


@no_cuda
def test_auto_is_cpu_without_cuda_and_cuda_is_refused_with_the_reason() -> None:
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(UserError, match=r"'cuda:1'.*no CUDA device"):
        resolve_device("cuda:1")


def test_unknown_device_names_the_value() -> None:
    with pytest.raises(UserError, match=r"got 'gpu0'"):
        resolve_device("gpu0")


def test_batch_to_its_own_device_is_itself_and_autocast_type_follows_the_device() -> None:
    batch = collate([Sample("sequential", (1, 2, 3), (IGNORE, 2, 3)), Sample("sequential", (4, 5), (IGNORE, 5))], 0)
    assert batch.to("cpu") is batch
    assert autocast_device_type(batch.input_ids.device) == "cpu"
    assert autocast_device_type(torch.device("cuda", 0)) == "cuda"
