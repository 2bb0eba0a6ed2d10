"""minigan's generator, Philox4x32-10: the published answers, the CPU and the GPU bit for
bit, the distributions, and the state that a checkpoint keeps."""
import numpy as np
import pytest

import minigan
from cuda_emu.our_rules import counting
from minigan import philox


# Random123's known-answer tests for philox4x32_10 (kat_vectors): counter, key -> words
KAT = [((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
       ((0xffffffff,) * 4, (0xffffffff,) * 2, (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
       ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
        (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))]


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_gives_the_published_answers(counter, key, expected):
    words = philox.philox4x32([[c] for c in counter], key)
    assert tuple(int(w) for w in words[:, 0]) == expected


def test_a_block_is_its_counter_and_the_seed():
    seed, offset = 0x0123456789abcdef, 2 ** 32 - 2          # the counter crosses 32 bits
    words = philox.blocks(seed, offset, 4)
    for i in range(4):
        c = offset + i
        one = philox.philox4x32([[c & 0xffffffff], [c >> 32], [0], [0]],
                                (seed & 0xffffffff, seed >> 32))
        assert (words[:, i] == one[:, 0]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["rand", "randn"])
@pytest.mark.parametrize("size", [1, 7, 1001])
def test_the_gpu_draws_the_cpus_numbers_bit_for_bit(gpu, dtype, kind, size):
    draw = getattr(minigan, kind)
    got = {}
    for device in ("cpu", gpu):
        minigan.manual_seed(2 ** 40 + 3)
        minigan.set_rng_state({"seed": 2 ** 40 + 3, "offset": 2 ** 33 - 5})   # past 32 bits
        first = draw(size, 3, dtype=dtype, device=device)
        second = draw(2, dtype=dtype, device=device)
        got[device] = [t.cpu().numpy() for t in (first, second)] + [minigan.get_rng_state()]
    for a, b in zip(got["cpu"][:2], got[gpu][:2]):
        assert a.dtype == b.dtype == dtype and a.tobytes() == b.tobytes()
    assert got["cpu"][2] == got[gpu][2]          # the offset moved on alike


def test_a_gpu_draw_copies_nothing_from_the_host(monkeypatch, emulator_lib):
    import cuda_emu
    cuda_emu.install(monkeypatch, emulator_lib)
    minigan.manual_seed(0)
    with counting() as calls:
        minigan.randn(128, 100, device="cuda")
        minigan.rand(5, device="cuda")
    assert calls["h2d"] == 0 and calls["generic"] == 0 and calls["kernel"] == 2, calls


def test_the_transforms_are_accurate():
    u = np.random.default_rng(0).random(100000)
    np.testing.assert_allclose(philox._log(1 - u), np.log(1 - u), rtol=1e-15, atol=0)
    cos, sin = philox._cos_sin_2pi(u)
    np.testing.assert_allclose(cos, np.cos(2 * np.pi * u), rtol=0, atol=2e-15)
    np.testing.assert_allclose(sin, np.sin(2 * np.pi * u), rtol=0, atol=2e-15)


def test_normals_and_uniforms_have_their_distributions():
    minigan.manual_seed(1)
    z = minigan.randn(10 ** 6, dtype=minigan.float64).numpy()
    assert abs(z.mean()) < 5e-3 and abs(z.var() - 1) < 5e-3
    # the normal CDF at a few points, against the fractions drawn below them
    for x, cdf in ((-2, 0.02275), (-1, 0.15866), (0, 0.5), (1, 0.84134), (2, 0.97725)):
        assert abs((z < x).mean() - cdf) < 2e-3, x
    for dtype in (minigan.float32, minigan.float64):
        u = minigan.rand(10 ** 6, dtype=dtype).numpy()
        assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 2e-3
        counts = np.histogram(u, bins=10, range=(0, 1))[0]
        assert np.abs(counts / 1e5 - 1).max() < 0.02


def test_state_round_trip_seed_and_the_old_format(tmp_path):
    minigan.manual_seed(5)
    minigan.randn(3)
    state = minigan.get_rng_state()
    assert state == {"seed": 5, "offset": 2}
    after = minigan.randn(4).numpy(), minigan.randint(0, 9, size=(6,)).numpy()
    minigan.save({"rng": state}, tmp_path / "r.npz")
    minigan.set_rng_state(minigan.load(tmp_path / "r.npz")["rng"])
    again = minigan.randn(4).numpy(), minigan.randint(0, 9, size=(6,)).numpy()
    assert all(np.array_equal(a, b) for a, b in zip(after, again))
    with pytest.raises(ValueError, match="before minigan used Philox"):
        minigan.set_rng_state({"bit_generator": "PCG64", "state": {}})


def test_integers_and_permutations_from_the_same_stream():
    minigan.manual_seed(0)
    ints = minigan.randint(3, 7, size=(10000,)).numpy()
    assert ints.min() == 3 and ints.max() == 6 and ints.dtype == np.int64
    assert np.abs(np.bincount(ints - 3) / 2500 - 1).max() < 0.1
    perm = minigan.randperm(50).numpy()
    assert sorted(perm) == list(range(50)) and (perm != np.arange(50)).any()


def test_a_float32_draw_is_the_float64_draw_rounded():
    # so a float32 run and a float64 run of the same seed start from the same numbers
    for draw, atol in ((minigan.rand, 2 ** -24), (minigan.randn, 1e-6)):
        minigan.manual_seed(3)
        single = draw(1001, dtype=minigan.float32).numpy()
        minigan.manual_seed(3)
        double = draw(1001, dtype=minigan.float64).numpy()
        np.testing.assert_allclose(single, double, rtol=1e-6, atol=atol)


def test_manual_seed_leaves_numpys_global_generator_alone():
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)
    minigan.manual_seed(7)
    minigan.randn(4)
    np.testing.assert_array_equal(np.random.random(3), expected)
