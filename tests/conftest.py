import pytest
import torch

from tiny_models import tiny_unet


@pytest.fixture
def unet():
    return tiny_unet()


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.set_num_threads(2)
