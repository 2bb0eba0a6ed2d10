"""minigan.threads: the CPU work split across cores covers everything once, and gives the
same bits on every run (and, for elementwise work, the same bits as one thread)."""
import sys
import threading

import numpy as np
import pytest

import minigan
from minigan import optim, threads


@pytest.fixture
def two_threads():
    """At least two threads, restored after the test."""
    before = threads.get_num_threads()
    threads.set_num_threads(max(2, before))
    yield
    threads.set_num_threads(before)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64])
def test_split_covers_each_index_once(two_threads, n):
    seen, names = np.zeros(n, int), set()

    def work(a, b):
        seen[a:b] += 1
        names.add(threading.current_thread().name)
    threads.split(work, n, threads.PIECE)   # a piece an index
    assert (seen == 1).all()
    assert len(names) == min(n, threads.get_num_threads()) or n < 2


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64])
def test_spread_covers_each_index_once_one_range_a_thread(two_threads, n):
    ranges = []
    threads.spread(lambda a, b: ranges.append((a, b)), n, threads.SMALL)
    assert sorted(i for a, b in ranges for i in range(a, b)) == list(range(n))
    assert len(ranges) == max(1, min(n, threads.get_num_threads()))


def test_small_work_is_spread_over_one_range():
    ranges = []
    threads.spread(lambda a, b: ranges.append((a, b)), 64, threads.SMALL - 1)
    assert ranges == [(0, 64)]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_pieces_depend_on_the_shape_not_the_thread_count(count):
    before = threads.get_num_threads()
    threads.set_num_threads(count)
    try:
        pieces = set()
        threads.split(lambda a, b: pieces.add((a, b)), 1000, threads.PIECE // 100)
        assert sorted(pieces) == [(a, min(a + 100, 1000)) for a in range(0, 1000, 100)]
        assert [threads.product_pieces(*s) for s in [(8, 8, 8), (64, 512, 1024),
                                                       (128, 1024, 3136), (2048, 256, 3136),
                                                       (4096, 512, 12544)]] == [1, 2, 2, 4, 8]
    finally:
        threads.set_num_threads(before)


@pytest.mark.parametrize("n", [0, -1, 1.5, "2"])
def test_set_num_threads_rejects(n):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
        minigan.set_num_threads(n)


@pytest.mark.parametrize("shape", [(300, 200, 500), (3, 4, 5), (1, 700, 900)])
def test_matmul_is_numpys_product_and_repeats_bit_for_bit(two_threads, shape):
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((n, k), dtype=np.float32).T   # a transposed view, as conv's gW
    got = threads.matmul(a, b)
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)
    assert got.flags.c_contiguous and got.dtype == np.float32
    np.testing.assert_array_equal(got, threads.matmul(a, b))


def test_matmul_takes_stacks_as_numpy_does():
    a, b = np.ones((2, 3, 4)), np.ones((2, 4, 5))
    np.testing.assert_array_equal(threads.matmul(a, b), a @ b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_in_pieces_is_adam_bit_for_bit(two_threads, dtype):
    rng = np.random.default_rng(1)
    shapes = [(3 * optim.PIECE + 17,), (5, 7), (1,), (2 * optim.PIECE,)]
    hyper = (3, 1e-3, 0.5, 0.999, 1e-8, 0.01)

    def arrays():
        return [[rng.standard_normal(s).astype(dtype) for _ in range(4)] for s in shapes]
    pieces = arrays()
    whole = [[a.copy() for a in arrays] for arrays in pieces]
    for p, g, m, v in pieces:
        v[...] = np.abs(v)
    for (p, g, m, v), w in zip(pieces, whole):
        w[3][...] = v
    optim.adam_update_in_pieces([(p, g, m, v, *hyper) for p, g, m, v in pieces])
    for p, g, m, v in whole:
        optim.adam_update(p, g, m, v, *hyper)
    for got, want in zip(pieces, whole):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_conv_step_repeats_bit_for_bit(two_threads):
    """A conv net's forward and backward, split across threads, twice: the same bits."""
    def run():
        minigan.manual_seed(0)
        net = minigan.nn.Sequential(minigan.nn.Conv2d(3, 64, 4, 2, 1), minigan.nn.BatchNorm2d(64),
                                    minigan.nn.LeakyReLU(0.2),
                                    minigan.nn.ConvTranspose2d(64, 3, 4, 2, 1))
        x = minigan.randn(32, 3, 32, 32)   # big enough that products and copies are split
        (net(x) * net(x)).mean().backward()
        return [net(x).numpy()] + [p.grad.numpy() for p in net.parameters()]
    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_pieces_of_views_land_in_place(two_threads):
    """Elementwise ops and BatchNorm, split into pieces, on transposed and sliced inputs
    large enough to be split: the same values as the plain NumPy formulas."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 400)).T                    # F-ordered, 120000 elements
    gy = rng.standard_normal((400, 300))
    xt = minigan.tensor(x, requires_grad=True)
    y = minigan.functional.leaky_relu(xt, 0.2)
    y.backward(minigan.tensor(gy))
    np.testing.assert_array_equal(y.numpy(), np.where(x > 0, x, 0.2 * x))
    np.testing.assert_array_equal(xt.grad.numpy(), np.where(x > 0, 1.0, 0.2) * gy)

    x4 = rng.standard_normal((8, 64, 20, 20))[:, ::2]          # (8, 32, 20, 20), strided
    y = minigan.functional.batch_norm(minigan.tensor(x4), None, None, training=True)
    mu = x4.mean(axis=(0, 2, 3), keepdims=True)
    var = x4.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y.numpy(), (x4 - mu) / np.sqrt(var + 1e-5), rtol=1e-10,
                               atol=1e-10)


def _openblas_threads():
    """OpenBLAS's own thread count, read through threadpoolctl (None if it finds none)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    found = threadpoolctl.ThreadpoolController().select(internal_api="openblas")
    found = [lib for lib in found.lib_controllers if lib.filepath == threads.blas()["path"]]
    return found[0].get_num_threads() if found else None


@pytest.fixture
def openblas_at_two():
    """NumPy's OpenBLAS set to two threads, as a user might have it; put back after."""
    if threads.blas() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this process can reach")
    get, set_ = threads.blas()["get_num_threads"], threads.blas()["set_num_threads"]
    before = get()
    set_(2)
    yield
    set_(before)


def test_openblas_runs_one_thread_inside_our_work_and_the_users_count_after(two_threads,
                                                                         openblas_at_two):
    inside = []
    threads.split(lambda a, b: inside.append(_openblas_threads()), 4, threads.PIECE)
    threads.spread(lambda a, b: inside.append(_openblas_threads()), 4, threads.SMALL)
    assert inside and set(inside) == {1}
    rng = np.random.default_rng(3)
    threads.matmul(rng.standard_normal((600, 600)), rng.standard_normal((600, 600)))
    threads.matmul(np.ones((2, 3, 4)), np.ones((2, 4, 5)))   # a stack: one call
    assert _openblas_threads() == 2   # the user's NumPy still has both threads


def test_openblas_found_without_threadpoolctl(monkeypatch):
    if threads.blas() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this process can reach")
    with_it = threads._openblas_paths()
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)   # import now raises ImportError
    assert threads._openblas_paths()[0] == with_it[0]


def test_maps_paths_keep_spaces_and_leave_deleted_files_out(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(
        "7f00-7f01 r-xp 00000000 08:01 123   /opt/my env/lib/libopenblas.so.0\n"
        "7f02-7f03 r-xp 00000000 08:01 124   /tmp/old/libscipy_openblas64_.so (deleted)\n"
        "7f04-7f05 r-xp 00000000 08:01 125   /usr/lib/libm.so.6\n"
        "7f06-7f07 rw-p 00000000 00:00 0 \n")
    assert threads._paths_in_maps(str(maps)) == ["/opt/my env/lib/libopenblas.so.0"]
    assert threads._paths_in_maps(str(tmp_path / "absent")) == []


def _gan_step_bytes(count):
    """One dcgan28 GAN step at batch 64 (large enough that products, BatchNorm and the
    movers are cut into pieces) on ``count`` threads, and one WGAN-GP critic step (LayerNorm,
    a double backward): the bytes of every weight, BatchNorm statistic and Adam moment."""
    import minigan.functional as F
    from minigan import models
    from minigan.penalties import gradient_penalty
    before = threads.get_num_threads()
    threads.set_num_threads(count)
    try:
        minigan.manual_seed(0)
        G, D = models.DCGANGenerator(image_size=28), models.DCGANDiscriminator(image_size=28)
        opt_G, opt_D = (optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G, D))
        real = minigan.rand(64, 1, 28, 28) * 2 - 1
        fake = G(minigan.randn(64, 100, 1, 1))
        ones, zeros = minigan.ones(64, 1), minigan.zeros(64, 1)
        loss_D = (F.binary_cross_entropy_with_logits(D(real).reshape(64, 1), ones)
                  + F.binary_cross_entropy_with_logits(D(fake.detach()).reshape(64, 1), zeros))
        opt_D.zero_grad(), loss_D.backward(), opt_D.step()
        loss_G = F.binary_cross_entropy_with_logits(D(fake).reshape(64, 1), ones)
        opt_G.zero_grad(), loss_G.backward(), opt_G.step()
        critic = models.WGANCritic(image_size=28)
        opt_C = optim.Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))
        loss = (critic(fake.detach()).mean() - critic(real).mean()
                + gradient_penalty(critic, real, fake.detach(), 10.0))
        opt_C.zero_grad(), loss.backward(), opt_C.step()
        arrays = [t.numpy() for m in (G, D, critic) for t in (*m.parameters(), *m.buffers())]
        arrays += [a for opt in (opt_G, opt_D, opt_C) for s in opt.state.values()
                   for a in s.values() if isinstance(a, np.ndarray)]
        return [a.tobytes() for a in arrays]
    finally:
        threads.set_num_threads(before)


def test_a_training_step_gives_the_same_bytes_on_1_2_and_3_threads():
    one = _gan_step_bytes(1)
    assert len(one) > 40
    for count in (2, 3):
        assert _gan_step_bytes(count) == one, f"{count} threads differ from one"


# ---- minigan.memory: large arrays from a pool of mapped buffers ----

def test_pooled_arrays_are_numpy_arrays_and_small_ones_are_numpys_own():
    from minigan import memory
    a = memory.empty((512, 1024), np.float32)   # 2 MB: pooled
    assert a.shape == (512, 1024) and a.dtype == np.float32 and a.flags.c_contiguous
    assert a.flags.writeable and not a.flags.owndata
    a[...] = 3
    assert (a == 3).all() and (memory.zeros((512, 1024), np.float64) == 0).all()
    small = memory.empty((10,), np.float32)
    assert small.flags.owndata


def test_a_buffer_is_taken_again_only_once_no_array_views_it():
    from minigan import memory
    memory.free_all()
    a = memory.empty((1024, 1024), np.float32)
    buffer = a.base
    view = a[::2]
    del a
    b = memory.empty((1024, 1024), np.float32)   # the view still holds the first buffer
    assert b.base is not buffer and not np.shares_memory(b, view)
    del view, b
    assert memory.pooled_bytes() == (buffer.nbytes, buffer.nbytes)   # the first, still held
    del buffer
    c = memory.empty((1024, 1024), np.float32)
    d = memory.empty((512, 1024), np.float32)   # half the size: the other free buffer serves it
    assert memory.pooled_bytes() == (2 * c.nbytes, 0) and not np.shares_memory(c, d)
    del c, d
    memory.free_all()
    assert memory.pooled_bytes() == (0, 0)


def test_the_pool_holds_no_more_than_slack_times_its_busiest_moment():
    from minigan import memory
    memory.free_all()
    held = []
    for mb in (1, 2, 3, 5, 8, 13, 21):   # sizes that never fit each other's buffers
        held.append(memory.empty((mb << 18,), np.float32))
        del held[0]   # one array in use at a time
        used, free = memory.pooled_bytes()
        assert used + free <= memory.SLACK * memory._busiest
    held.clear()
    memory.free_all()


def test_a_run_resumed_on_another_thread_count_continues_bit_for_bit(tmp_path):
    """Two dcgan28 steps on 2 threads, against one step on 1 thread, a save and load, and
    a step on 3: the same bytes (a resume on a machine with another core count)."""
    import minigan.functional as F
    from minigan import models

    def build():
        G, D = models.DCGANGenerator(image_size=28), models.DCGANDiscriminator(image_size=28)
        opts = [optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999)) for m in (G, D)]
        return G, D, opts

    def step(G, D, opts, real):
        fake = G(minigan.randn(64, 100, 1, 1))
        ones, zeros = minigan.ones(64, 1), minigan.zeros(64, 1)
        loss_D = (F.binary_cross_entropy_with_logits(D(real).reshape(64, 1), ones)
                  + F.binary_cross_entropy_with_logits(D(fake.detach()).reshape(64, 1), zeros))
        opts[1].zero_grad(), loss_D.backward(), opts[1].step()
        loss_G = F.binary_cross_entropy_with_logits(D(fake).reshape(64, 1), ones)
        opts[0].zero_grad(), loss_G.backward(), opts[0].step()

    def state(G, D, opts):
        return {"G": G.state_dict(), "D": D.state_dict(), "opt_G": opts[0].state_dict(),
                "opt_D": opts[1].state_dict(), "rng": minigan.get_rng_state()}

    before = threads.get_num_threads()
    try:
        threads.set_num_threads(2)
        minigan.manual_seed(0)
        G, D, opts = build()
        real = minigan.rand(64, 1, 28, 28) * 2 - 1
        step(G, D, opts, real), step(G, D, opts, real)
        straight = state(G, D, opts)

        threads.set_num_threads(1)
        minigan.manual_seed(0)
        G, D, opts = build()
        real = minigan.rand(64, 1, 28, 28) * 2 - 1
        step(G, D, opts, real)
        minigan.save(state(G, D, opts), tmp_path / "ckpt.npz")
        threads.set_num_threads(3)
        G, D, opts = build()
        saved = minigan.load(tmp_path / "ckpt.npz")
        G.load_state_dict(saved["G"]), D.load_state_dict(saved["D"])
        opts[0].load_state_dict(saved["opt_G"]), opts[1].load_state_dict(saved["opt_D"])
        minigan.set_rng_state(saved["rng"])
        step(G, D, opts, real)
        resumed = state(G, D, opts)
    finally:
        threads.set_num_threads(before)
    a, b = _leaves(straight), _leaves(resumed)
    assert a.keys() == b.keys() and len(a) > 40
    for key in a:
        assert _bytes(a[key]) == _bytes(b[key]), key


def _bytes(leaf):
    return np.asarray(leaf.numpy() if hasattr(leaf, "numpy") else leaf).tobytes()


def _leaves(tree, prefix=""):
    """{path: leaf} of nested dicts and lists."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) \
        if isinstance(tree, (list, tuple)) else None
    if items is None:
        return {prefix: tree}
    return {k: v for key, value in items for k, v in _leaves(value, f"{prefix}/{key}").items()}


def test_an_error_in_a_piece_is_raised_after_every_piece_has_stopped(two_threads,
                                                                   openblas_at_two):
    done = []

    def work(a, b):
        if a == 0:
            raise ValueError("piece 0")
        threading.Event().wait(0.05)   # the other piece is still busy when piece 0 fails
        done.append(_openblas_threads())
    with pytest.raises(ValueError, match="piece 0"):
        threads.run(work, [0, 1, 2])
    assert done == [1]                  # it ran to its end, with OpenBLAS at one thread
    assert _openblas_threads() == 2     # and only then was the user's count put back


def test_overlapping_calls_from_two_user_threads_keep_openblas_at_one(openblas_at_two):
    """A's work starts, then B's; A's ends while B's runs: B still has OpenBLAS at one."""
    (a_in, b_in, a_out), seen = (threading.Event() for _ in range(3)), []

    def a_work(lo, hi):
        a_in.set()
        b_in.wait(5)

    def b_work(lo, hi):
        b_in.set()
        a_out.wait(5)
        seen.append(_openblas_threads())

    def user_a():
        threads.run(a_work, [0, 1])
        a_out.set()
    first = threading.Thread(target=user_a)
    first.start()
    a_in.wait(5)
    threads.run(b_work, [0, 1])
    first.join()
    assert seen == [1]
    assert _openblas_threads() == 2   # the last one out put the user's count back


def test_pooled_buffers_are_private_to_a_forked_child():
    from minigan import memory
    import os
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    a = memory.zeros((1 << 20,), np.float32)
    pid = os.fork()
    if pid == 0:   # the child writes, and leaves at once
        a[0] = 7
        os._exit(0)
    os.waitpid(pid, 0)
    assert a[0] == 0


def test_object_arrays_are_numpys_own():
    from minigan import memory
    assert memory.empty((1 << 18,), object).flags.owndata
