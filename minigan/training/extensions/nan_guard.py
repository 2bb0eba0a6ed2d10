"""The NaN guard: a run stops at the first NaN or Inf value of a step."""
import math

from ..errors import NonFiniteLoss


class NonFiniteGuard:
    """Raises ``NonFiniteLoss`` at the first row with a NaN or Inf value, naming the step and
    the checkpoint to continue from. It observes each row as it is read, before the
    extensions that run after the row (a checkpoint): nothing is saved after a NaN."""

    def observe(self, trainer, row):
        bad = non_finite(row.values)
        if not bad:
            return
        shown = ", ".join(f"{k} = {row.values[k]}" for k in bad)
        last = trainer.outputs.get("checkpoint")
        kept = (f"the last good checkpoint is {last}: resume from it" if last
                else "no checkpoint was written yet: start again")
        raise NonFiniteLoss(f"step {row.step}: {shown}; training diverged and stopped without "
                            f"saving; {kept}")


def non_finite(values):
    """The names of the NaN or Inf values of a step."""
    return [k for k, v in values.items() if v is not None and not math.isfinite(v)]
