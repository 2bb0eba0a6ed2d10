"""Sample grids: a generator's images for fixed inputs, as the run goes."""
import os

import minigan
from ...data import to_tanh_range
from ..checkpoint import make_folder
from ..log import save_grid, save_samples


class SampleGrid:
    """Writes ``<name>_<step>.png`` into ``out``: an 8-wide grid of ``model(z)`` in eval mode
    (``log.save_samples``), ``z`` the same at every call. With ``real`` (uint8 images) it
    first draws them as ``real_samples.png``, to compare with.

    ``z`` is part of the run's state (``state_dict``): a Checkpoint given this extension
    saves it, and a resumed run draws the same inputs.
    """

    def __init__(self, out, model, z, real=None, name="samples"):
        self.out, self.model, self.z, self.real, self.name = out, model, z, real, name

    def initialize(self, trainer):
        make_folder(self.out)
        if self.real is not None:
            path = os.path.join(self.out, "real_samples.png")
            save_grid(to_tanh_range(self.real), path)
            trainer.outputs["real samples"] = path

    def __call__(self, trainer):
        path = os.path.join(self.out, f"{self.name}_{trainer.step:06d}.png")
        save_samples(self.model, self.z, path)
        trainer.outputs["samples"] = path

    def state_dict(self):
        return self.z.detach()

    def load_state_dict(self, z):
        self.z = minigan.tensor(z.numpy(), device=self.z.device)
