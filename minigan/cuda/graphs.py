"""A training step captured once as a CUDA graph, then replayed: one launch a step.

    step = minigan.cuda.CapturedStep(body, inputs)
    values = step()          # each training step

``inputs()`` makes a step's fresh inputs eagerly (a batch, noise): tensors on the GPU.
``body(*inputs)`` is the step itself: forward passes, backward passes, optimizer steps,
and it returns the step's values (0-d tensors: losses, D's outputs). The first calls run
``body`` eagerly on a stream of its own, to warm up (Adam makes its state, CuPy's memory
pool gets the blocks the step needs). Then one call records ``body`` into a graph (CuPy's
stream capture): the GPU runs nothing while Python walks through the step once, and every
launch, with its arguments, is kept. From then on a call copies the fresh inputs into the
captured step's input buffers, runs the host's own bookkeeping (``on_replay``), launches the
graph once, and copies the values out. Parameters, moments and step counts are updated in
place, so eager steps (an R1 step, say) and replays can take turns.

What a captured body must not do: read a value on the host (``.item()``, a NaN check),
copy from the host (a new tensor of Python numbers), or depend on a host number that
changes from step to step. So Adam counts its steps on the device, BatchNorm counts its
batches on the host through ``on_replay``, and the values are read by the caller of the
step, every so many steps, not by the step itself.
"""
from .. import backend, tensor
from . import memory

_replayed = None   # while a step is being captured: the list its on_replay functions join


def on_replay(fn):
    """Run ``fn()`` now; while a step is being captured, also before each replay of it.

    For the host's side of a step (a counter that Python keeps, such as BatchNorm's
    num_batches_tracked): the replays do not run Python, so they would skip it.
    """
    fn()
    if _replayed is not None:
        _replayed.append(fn)


def capturing():
    """True while a step is being captured (nothing is being computed)."""
    return _replayed is not None


class CapturedStep:
    """``body(*inputs())`` on the GPU, warmed up ``warmup`` times, then captured and replayed.

    Replays give the eager step's numbers bit for bit: the same kernels in the same order
    on the same buffers (tests/test_graphs.py, on the emulated GPU).
    """

    def __init__(self, body, inputs, warmup=2):
        self.body, self.inputs, self.warmup = body, inputs, warmup
        self.stream = backend.cupy.cuda.Stream(non_blocking=True)
        self.graph = None
        self.steps = 0         # calls so far: warm-up, capture, replays
        self.replays = 0       # graph launches so far (the capture's own launch included)

    def __call__(self):
        self.steps += 1
        if self.graph is None and self.steps <= self.warmup:
            # NOTE: a non-blocking stream does not wait for the default one: the models and
            # the data must be there first
            backend.cupy.cuda.get_current_stream().synchronize()
            with self.stream:   # NOTE: the pool keeps free blocks per stream: warm up on it
                values = self.body(*self.inputs())
            self.stream.synchronize()
            return values
        if self.graph is None:
            self._capture()
        else:
            fresh = self.inputs()
            for buffer, value in zip(self.static_inputs, fresh):
                buffer.copy_(value)
            for fn in self.replayed:
                fn()
        self.graph.launch(stream=backend.cupy.cuda.get_current_stream())
        self.replays += 1
        # the values out of the graph's buffers: the next replay writes over them
        return {name: None if v is None else
                tensor.Tensor(memory.copy(memory.empty_like(v.data), v.data))
                for name, v in self.static_values.items()}

    def _capture(self):
        global _replayed
        # the capture's inputs are made eagerly, then stay the step's input buffers
        self.static_inputs = [tensor.Tensor(t.data) for t in self.inputs()]
        backend.cupy.cuda.get_current_stream().synchronize()
        self.replayed, _replayed = [], []
        # NOTE: the graph writes into every array made for it on each replay: self.kept keeps
        # them alive as long as the graph lives
        try:
            with memory.keep_alive() as self.kept, self.stream:
                self.stream.begin_capture()
                try:
                    self.static_values = self.body(*self.static_inputs)
                finally:
                    graph = self.stream.end_capture()
        finally:
            self.replayed, _replayed = _replayed, None
        self.graph = graph
