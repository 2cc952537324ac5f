"""The generator protocol's general extensions: named outputs, declared latent codes, batch labels."""

from __future__ import annotations

import pytest
import torch

from gancore.data import Batch, DataSpec
from gancore.errors import ConfigError
from gancore.generator import Generator, LatentCode, samples_of, traverse_latent
from gancore.step import Step


class Coded(Generator):
    """Noise plus a 3-way categorical code and one continuous code; the sample records its inputs."""

    def __init__(self):
        super().__init__(latent_dim=2)

    @property
    def latent_codes(self):
        return {"kind": LatentCode("categorical", 3), "tilt": LatentCode("continuous", low=-2.0, high=2.0)}

    def latent(self, n, labels=None, batch=None, rng=None):
        return {"z": torch.randn(n, 2, generator=rng), "kind": torch.randint(0, 3, (n,), generator=rng),
                "tilt": torch.rand(n, generator=rng)}

    def forward(self, latent):
        return torch.cat([latent["z"], latent["kind"][:, None].float(), latent["tilt"][:, None]], 1)


def test_latent_code_sweeps():
    assert torch.equal(LatentCode("categorical", 4).sweep(10), torch.arange(4))
    assert torch.allclose(LatentCode("continuous", low=-1, high=1).sweep(5), torch.tensor([-1, -0.5, 0, 0.5, 1]))
    with pytest.raises(ValueError):
        LatentCode("ordinal")


def test_traverse_varies_one_code_along_each_row_and_keeps_the_rest():
    G = Coded()
    latent, columns = traverse_latent(G, "kind", rows=2, rng=torch.Generator().manual_seed(0))
    out = G(latent).view(2, columns, -1)
    assert columns == 3
    assert torch.equal(out[:, :, 2], torch.tensor([[0.0, 1, 2], [0, 1, 2]]))  # the code sweeps its values
    assert torch.equal(out[:, :1, [0, 1, 3]].expand(-1, 3, -1), out[:, :, [0, 1, 3]])  # the rest stays fixed
    assert not torch.equal(out[0, 0, :2], out[1, 0, :2])  # rows differ
    latent, columns = traverse_latent(G, "tilt", rows=1, steps=5)
    assert columns == 5 and torch.allclose(latent["tilt"], torch.linspace(-2, 2, 5))


def test_traverse_names_the_codes_or_says_there_are_none():
    with pytest.raises(ConfigError, match="use one of kind, tilt"):
        traverse_latent(Coded(), "size", rows=1)
    with pytest.raises(ConfigError, match="declares none"):
        traverse_latent(Generator(4), "kind", rows=1)


class Labelled(Generator):
    labels_from_batch = True

    def forward(self, latent):
        return latent["z"]


def test_labels_from_batch_only_when_asked_and_when_the_batch_has_labels():
    batch = Batch(torch.zeros(3, 2), torch.tensor([2, 0, 1]))
    assert torch.equal(Labelled(2, 5).latent(3, batch=batch)["labels"], batch.labels)
    assert torch.equal(Labelled(2, 5).latent(3, labels=torch.tensor([4, 4, 4]), batch=batch)["labels"],
                       torch.tensor([4, 4, 4]))  # explicit labels win
    assert Labelled(2, 5).latent(3, batch=Batch(torch.zeros(3, 2)))["labels"].shape == (3,)
    plain = Generator(2, 5)
    torch.manual_seed(0)
    drawn = [plain.latent(3, batch=batch)["labels"] for _ in range(20)]
    assert any(not torch.equal(d, batch.labels) for d in drawn)


class TwoOutputs(Generator):
    def __init__(self):
        super().__init__(latent_dim=2)
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, latent):
        return {"sample": latent * self.scale, "code": latent.sum(1)}


def test_step_outputs_and_fake_with_named_outputs():
    G = TwoOutputs()
    step = Step(index=0, batch=Batch(torch.zeros(4, 2)), generator=G, discriminator=torch.nn.Identity(), G=G,
                D=torch.nn.Identity(), config=None, data=DataSpec("v", (2,)), accelerator=None, state={},
                name_of=str)
    step.begin("d")
    assert step.fake.shape == (4, 2) and not step.fake.requires_grad
    assert step.outputs["code"].shape == (4,) and step.outputs["sample"] is step.fake  # one forward per phase
    step.begin("g")
    assert step.fake.requires_grad and step.outputs["code"].shape == (4,)
    assert samples_of(torch.ones(1)).shape == (1,)
