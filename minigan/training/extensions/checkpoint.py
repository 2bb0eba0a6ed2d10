"""Checkpoints and resume: the whole state of a run, written as it goes, read back exactly."""
import os

import minigan
from ..checkpoint import (KIND, VERSION, check_arch, checkpoint_path, list_checkpoints,
                          make_folder, rng_state, set_rng_state)
from ..errors import CheckpointMismatch


class Checkpoint:
    """Writes ``checkpoint-<step>.npz`` into ``out`` (atomically; the newest ``keep`` stay).

    ``state``: name -> an object with ``state_dict()`` and ``load_state_dict()`` (a model,
    an optimizer, a BatchStream, an extension such as SampleGrid) or a dict of them by name.
    A checkpoint holds their states, the step, the training seconds, minigan's random state,
    ``arch`` (checked by ``resume``) and ``config`` (the settings, for the next run): N
    steps, a resume and N more equal 2N steps in one run, bit for bit.
    """

    def __init__(self, out, state, arch, config, keep=3):
        self.out, self.state, self.arch, self.config, self.keep = out, state, arch, config, keep

    def __call__(self, trainer):
        make_folder(self.out)
        path = checkpoint_path(self.out, trainer.step)
        minigan.save(self.state_dict(trainer), path)
        trainer.outputs["checkpoint"] = path
        for _, old in list_checkpoints(self.out)[:-self.keep]:
            os.remove(old)

    def state_dict(self, trainer):
        saved = {name: ({k: v.state_dict() for k, v in obj.items()} if isinstance(obj, dict)
                        else obj.state_dict()) for name, obj in self.state.items()}
        return {"kind": KIND, "version": VERSION, "arch": self.arch, "config": self.config,
                "step": trainer.step, "elapsed": trainer.elapsed_seconds(), **saved,
                "rng": rng_state()}

    def resume(self, trainer, ckpt):
        """Continue ``trainer`` from a checkpoint (``load_checkpoint``); raises
        ``CheckpointMismatch`` when it does not fit."""
        check_arch(ckpt, self.arch)
        try:
            for name, obj in self.state.items():
                if isinstance(obj, dict):
                    for k, v in obj.items():
                        v.load_state_dict(ckpt[name][k])
                else:
                    obj.load_state_dict(ckpt[name])
            set_rng_state(ckpt["rng"])
            trainer.step, trainer.elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise CheckpointMismatch(f"checkpoint {ckpt.get('path', '')} does not fit this "
                                     f"run ({e})") from None
        if ckpt.get("path"):
            trainer.outputs["checkpoint"] = ckpt["path"]
