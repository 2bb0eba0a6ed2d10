"""Optimizers: Adam and SGD with PyTorch's update rules and state dicts.

Updates work on the raw arrays in place (no graph is recorded), so the
parameter tensors the model holds are the ones that change.
"""
import math

import numpy as np

from . import backend, cuda, threads
from .autograd import profiler
from .ops._args import kernel_dtype
from .tensor import Tensor


class Optimizer:
    """Holds param_groups (dicts of params and hyper-parameters) and per-parameter state."""

    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups = []
        for g in groups:
            group = dict(defaults)
            group.update(g)
            group["params"] = list(group["params"])
            self.param_groups.append(group)
        self.state = {}   # Parameter -> dict of arrays and the step count

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}, as PyTorch."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {index[id(p)]: {k: (int(v[0]) if k == "step" and hasattr(v, "shape") else
                                    v.copy() if hasattr(v, "copy") else v) for k, v in s.items()}
                 for p, s in self.state.items()}
        groups = [dict(g, params=[index[id(p)] for p in g["params"]]) for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved parameter groups "
                             f"do not match this optimizer's (sizes "
                             f"{[len(g['params']) for g in groups]} vs "
                             f"{[len(g['params']) for g in self.param_groups]})")
        params = self._params()
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {}
            for k, v in s.items():
                if hasattr(v, "shape") and v.shape != ():
                    if tuple(v.shape) != tuple(p.shape):
                        raise ValueError(f"{type(self).__name__}.load_state_dict: state {k!r} "
                                         f"of parameter {i} has shape {tuple(v.shape)}, the "
                                         f"parameter has {tuple(p.shape)}")
                    # NOTE: a Tensor's array is .data; a CuPy array's .data is its pointer
                    v = backend.to_device(v.data if isinstance(v, Tensor) else v,
                                          p.device).astype(p.dtype)
                elif k == "step":   # an int: a step on a GPU moves it into its slot there
                    v = int(v)
                self.state[p][k] = v
        for own, saved in zip(self.param_groups, groups):
            own.update({k: v for k, v in saved.items() if k != "params"})


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's semantics.

        g ← g + weight_decay · p                    (L2 penalty, not AdamW)
        m ← β₁ m + (1 - β₁) g,   v ← β₂ v + (1 - β₂) g²
        p ← p - lr / (1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"Adam: betas must be in [0, 1), got {tuple(betas)}")
        if not (lr >= 0 and eps >= 0):
            raise ValueError(f"Adam: the learning rate and eps must be at least 0, got {lr} "
                             f"and {eps}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    @profiler.optimizer_step
    def step(self):
        on_cpu, on_gpu = [], []
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                kernel_dtype("Adam", parameter=p, grad=p.grad)
                arrays = backend.arrays_for(p.data)   # the choice of device, once a parameter
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {"step": 0,
                                             "exp_avg": arrays.full(p.shape, 0, p.dtype),
                                             "exp_avg_sq": arrays.full(p.shape, 0, p.dtype)}
                pgmv = (p.data, p.grad.data, state["exp_avg"], state["exp_avg_sq"])   # p, g, m, v
                hyper = (group["lr"], beta1, beta2, group["eps"], group["weight_decay"])
                if arrays.device == "cuda":
                    if isinstance(state["step"], int):   # a new count, or a loaded one
                        state["step"] = self._device_step(p, state["step"])
                    on_gpu.append((p, (*pgmv, state["step"], *hyper)))
                else:
                    state["step"] += 1
                    on_cpu.append((*pgmv, state["step"], *hyper))
        if on_gpu:
            self._count_steps([p for p, _ in on_gpu])
            for _, args in on_gpu:
                adam_update_cuda(*args)
        adam_update_in_pieces(on_cpu)

    # ---- the step counts of parameters on a GPU: on the device, moved on by one launch ----
    def _device_step(self, p, count):
        """p's slot of the device array of step counts, set to ``count``."""
        if getattr(self, "_steps", None) is None:
            self._steps = backend.to_device(np.zeros(len(self._params()), np.int64), p.device)
            self._slot = {id(q): i for i, q in enumerate(self._params())}
            self._which = {}
        i = self._slot[id(p)]
        step = self._steps[i:i + 1]   # a view: adam_count moves it on, adam_update reads it
        step[...] = count
        return step

    def _count_steps(self, params):
        """steps += 1 for ``params``: one launch; the index list goes to the device once."""
        key = tuple(self._slot[id(p)] for p in params)
        if key not in self._which:
            self._which[key] = backend.to_device(np.array(key, np.int64), params[0].device)
        which = self._which[key]
        cuda.launch("adam", "adam_count", params[0].dtype, cuda.blocks_for(len(key)),
                    self._steps, which, np.int64(len(key)))


PIECE = 1 << 17   # elements: a piece of p, g, m, v and a work array stays in cache


def adam_update_in_pieces(updates):
    """``adam_update`` for each args of ``updates``, run over pieces of PIECE elements of
    the flattened arrays, the pieces split across the CPU cores.

    NOTE: the same arithmetic, element by element, as one call per parameter, so the same
    bits; but each of adam_update's passes finds its piece in cache, so memory is read and
    written about once instead of once a pass.
    """
    pieces = []
    for p, g, m, v, *hyper in updates:
        if not (p.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous):
            adam_update(p, g, m, v, *hyper)   # pieces must be views into p, m and v
            continue
        flat = [a.reshape(-1) for a in (p, np.ascontiguousarray(g), m, v)]
        pieces += [(flat, slice(i, i + PIECE), hyper) for i in range(0, p.size, PIECE)]

    def work(first, last):
        tmp = {}   # one work array per dtype, for this thread's pieces
        for arrays, part, hyper in pieces[first:last]:
            p, g, m, v = (a[part] for a in arrays)
            if p.dtype not in tmp:
                tmp[p.dtype] = np.empty(PIECE, p.dtype)
            adam_update(p, g, m, v, *hyper, tmp=tmp[p.dtype][:p.size])
    # per-element arithmetic: no bit depends on which thread takes which pieces
    threads.spread(work, len(pieces), len(pieces) * PIECE)


def adam_update(p, g, m, v, step, lr, beta1, beta2, eps, weight_decay, tmp=None):
    """One Adam step on arrays, in place (the NumPy reference of the fused CUDA kernel).

    Every line writes into an existing array (``tmp``, given or made once, then m, v
    and p): new arrays of the parameter's size, most of the cost on the CPU, are made
    only for weight decay's g + weight_decay · p.
    """
    xp = backend.get_array_module(p)
    # NOTE: a transposed (Fortran-ordered) gradient makes every pass below several times slower
    # (roughly 10×, measured on the 2-core development machine, 2026-12-05); copying costs less.
    g = xp.ascontiguousarray(g)
    if weight_decay:
        g = g + weight_decay * p
    if tmp is None:
        tmp = xp.empty_like(p)
    # ---- m ← β₁ m + (1 - β₁) g, written as PyTorch's lerp: m += (1 - β₁)(g - m) ----
    xp.subtract(g, m, out=tmp)
    tmp *= 1 - beta1
    m += tmp
    # ---- v ← β₂ v + (1 - β₂) g² ----
    v *= beta2
    xp.multiply(g, g, out=tmp)
    tmp *= 1 - beta2
    v += tmp
    # ---- p ← p - lr / (1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + eps) ----
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
    xp.sqrt(v, out=tmp)
    tmp /= bias_correction2_sqrt
    tmp += eps
    xp.divide(m, tmp, out=tmp)
    tmp *= lr / bias_correction1
    p -= tmp


def adam_update_cuda(p, g, m, v, step, lr, beta1, beta2, eps, weight_decay):
    """The same step as ``adam_update`` in one fused kernel (kernels/adam.cu); ``step`` is
    a device int64 array of one count, t, which the kernel reads there."""
    t = p.dtype.type
    cuda.launch("adam", "adam_update", p.dtype, cuda.blocks_for(p.size), p, cuda.dense(g), m, v,
                step, np.float64(lr), np.float64(beta1), np.float64(beta2), t(eps),
                t(weight_decay), np.int64(p.size))


class SGD(Optimizer):
    """SGD with momentum, PyTorch's form.

        g ← g + weight_decay · p
        b ← g (first step),  b ← μ b + (1 - dampening) g (later)
        g ← g + μ b (nesterov) or b
        p ← p - lr g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    @profiler.optimizer_step
    def step(self):
        for group in self.param_groups:
            mu = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * p.data
                if mu:
                    state = self.state.setdefault(p, {})
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = g.copy()
                    else:
                        buf = state["momentum_buffer"]
                        buf *= mu
                        buf += (1 - group["dampening"]) * g
                    buf = state["momentum_buffer"]
                    g = g + mu * buf if group["nesterov"] else buf
                p.data -= group["lr"] * g
