"""CuPy's own stream and graph tests, run against the CuPy double: the double must pass what
CuPy passes. The rest of CuPy's tests that the double ports (the memory pool, kernel
arguments, arrays) are in test_cupy_rules.py.

Each test names the CuPy test it mirrors (CuPy v14.2.0, tests/cupy_tests/cuda_tests/...), and
keeps its steps and assertions; what differs is said in the test. The double's stream and
capture rules, with the CuPy source lines they follow, are in tests/cuda_emu/cupy_streams.py.
Tests of CuPy features minigan does not use and the double does not model are not ported:
test_graph's debug_dot_str, failure_cusolver and failure_cusparse; test_stream's
get_and_add_callback, per_device, per_device_failure, stream_thread, create_with_priority
and the external-stream classes.
"""
import gc

import numpy as np
import pytest

from cupy_rules_common import assert_array_equal, cuda, cupy, double  # noqa: F401 (autouse)


# ---- tests/cupy_tests/cuda_tests/test_graph.py, TestGraph ----
def _helper1(a):   # ufuncs of simple arithmetic
    a = a + 3
    a = a * 7.6
    return a ** 2


def _helper2(a):   # ufuncs that call the math API
    a = 3 * cupy.sin(a)
    return cupy.sqrt(a)


def _helper3(a):   # a CUDA library (cuFFT)
    a = a * cupy.fft.fft(a)
    return cupy.fft.ifft(a)


def _helper4(a):   # a host decision on a value computed on the device: a synchronization
    result = cupy.zeros((1,), dtype=cupy.int32)
    if a.sum() > 0:   # synchronize!
        result += 1
    if a[-1] >= 0:    # synchronize!
        result += 2
    return result


@pytest.mark.parametrize("upload", [True, False])
def test_capture_run_on_same_stream(upload):
    s = cuda.Stream(non_blocking=True)
    a = cupy.random.random((100,))
    cuda.get_current_stream().synchronize()
    for func in (_helper1, _helper2, _helper3):
        with s:
            s.begin_capture()
            out1 = func(a)
            g = s.end_capture()
            if upload:
                g.upload()
            g.launch()
        s.synchronize()
        out2 = func(a)
        assert_array_equal(out1, out2)


@pytest.mark.parametrize("upload", [True, False])
def test_capture_run_on_different_streams(upload):
    s1, s2 = cuda.Stream(non_blocking=True), cuda.Stream(non_blocking=True)
    a = cupy.random.random((100,))
    cuda.get_current_stream().synchronize()
    for func in (_helper1, _helper2, _helper3):
        with s1:
            s1.begin_capture()
            out1 = func(a)
            g = s1.end_capture()
        with s2:
            if upload:
                g.upload()
            g.launch()
        s2.synchronize()
        out2 = func(a)
        assert_array_equal(out1, out2)


@pytest.mark.parametrize("upload", [True, False])
def test_stream_is_capturing(upload):
    s = cuda.Stream(non_blocking=True)
    a = cupy.random.random((100,))
    with s:
        s.begin_capture()
        assert s.is_capturing()
        assert not cuda.Stream.null.is_capturing()
        b = a * 3
        g = s.end_capture()
    assert not s.is_capturing()
    assert not cuda.Stream.null.is_capturing()
    if upload:
        g.upload()
    cuda.get_current_stream().synchronize()
    g.launch()
    s.synchronize()
    assert_array_equal(b, 3 * a)


@pytest.mark.parametrize("upload", [True, False])
def test_capture_launch_host_func(upload):
    s = cuda.Stream(non_blocking=True)
    counter = {"count": 0}

    def callback(x):
        counter["count"] += x["delta"]

    with s:
        s.begin_capture()
        s.launch_host_func(callback, {"delta": 1})   # the graph keeps the callback alive
        del callback
        gc.collect()
        g = s.end_capture()
    if upload:
        g.upload()
    g.launch()
    cuda.get_current_stream().synchronize()
    assert counter["count"] == 1
    g.launch()
    cuda.get_current_stream().synchronize()
    assert counter["count"] == 2


@pytest.mark.parametrize("upload", [True, False])
def test_stream_fork_join(upload):
    s1, s2 = cuda.Stream(non_blocking=True), cuda.Stream(non_blocking=True)
    e1, e2 = cuda.Event(), cuda.Event()
    a = cupy.random.random((100,))

    def func(x):
        return 3 * x + 1

    with s1:
        s1.begin_capture()
        out1 = a * 100
        e1.record(s1)
        s2.wait_event(e1)
        with s2:
            out2 = func(out1)
            e2.record(s2)
        s1.wait_event(e2)
        g = s1.end_capture()
    assert not s1.is_capturing()
    assert not s2.is_capturing()
    if upload:
        g.upload()
    cuda.get_current_stream().synchronize()
    g.launch()
    s1.synchronize()
    assert_array_equal(out2, func(a * 100))


@pytest.mark.parametrize("upload", [True, False])
def test_null_stream_cannot_capture(upload):
    s = cuda.Stream(non_blocking=False)
    a = cupy.random.random((100,))
    with s:
        s.begin_capture()
        b = a + 4
        assert s.is_capturing()
        # the legacy stream is unhappy while a blocking stream captures
        with pytest.raises(cuda.runtime.CUDARuntimeError) as e:
            cuda.Stream.null.is_capturing()
        assert "cudaErrorStreamCaptureImplicit" in str(e.value)
        g = s.end_capture()
    assert not s.is_capturing()
    assert not cuda.Stream.null.is_capturing()
    if upload:
        g.upload()
    cuda.get_current_stream().synchronize()
    g.launch()
    s.synchronize()
    assert_array_equal(b, a + 4)


@pytest.mark.parametrize("query", ["synchronize", "done"])
def test_stream_capture_failure1_4_6(query):
    """test_stream_capture_failure1 and failure6 (a synchronize: an error, and the capture
    invalidated) and failure4 (a query: no error, but the capture invalidated)."""
    s = cuda.Stream(non_blocking=True)
    with s:
        s.begin_capture()
        if query == "synchronize":
            with pytest.raises(cuda.runtime.CUDARuntimeError) as e:
                s.synchronize()
            assert "cudaErrorStreamCaptureUnsupported" in str(e.value)
        else:
            s.done
        with pytest.raises(cuda.runtime.CUDARuntimeError) as e:
            s.end_capture()
        assert "cudaErrorStreamCaptureInvalidated" in str(e.value)
    assert not s.is_capturing()
    s.synchronize()


def test_stream_capture_failure2():
    s1, s2 = cuda.Stream(non_blocking=True), cuda.Stream(non_blocking=True)
    e2 = cuda.Event()
    a = cupy.random.random((100,))
    with s1:
        s1.begin_capture()
        with pytest.raises(cuda.runtime.CUDARuntimeError) as e:
            s2.end_capture()
        assert "cudaErrorIllegalState" in str(e.value)
        e2.record(s1)
        s2.wait_event(e2)
        with s2:
            b = a ** 3  # noqa: F841
        with pytest.raises(cuda.runtime.CUDARuntimeError) as e:
            s2.end_capture()
        assert "cudaErrorStreamCaptureUnmatched" in str(e.value)
        with pytest.raises(cuda.runtime.CUDARuntimeError) as e:
            s1.end_capture()
        assert "cudaErrorStreamCaptureInvalidated" in str(e.value)
    assert not s1.is_capturing()
    assert not s2.is_capturing()
    s1.synchronize()
    s2.synchronize()


def test_stream_capture_failure3():
    s1, s2 = cuda.Stream(non_blocking=True), cuda.Stream(non_blocking=True)
    e2 = cuda.Event()
    a = cupy.random.random((100,))
    with s1:
        s1.begin_capture()
        e2.record(s1)
        s2.wait_event(e2)
        with s2:
            # cupy.where(cond) counts on the host: refused while capturing
            with pytest.raises(RuntimeError) as e:
                cupy.where(a > 0.5)
            assert "is capturing" in str(e.value)
        # s2 joined the capture and was never joined back
        with pytest.raises(cuda.runtime.CUDARuntimeError) as e:
            s1.end_capture()
        assert "cudaErrorStreamCaptureUnjoined" in str(e.value)
    assert not s1.is_capturing()
    assert not s2.is_capturing()
    s1.synchronize()
    s2.synchronize()


def test_stream_capture_failure5():
    s = cuda.Stream(non_blocking=True)
    a = cupy.random.random((100,))
    with s:
        s.begin_capture()
        with pytest.raises(RuntimeError) as e:
            _helper4(a)
        assert "is capturing" in str(e.value)
        s.end_capture()   # CuPy refused before CUDA saw anything: the capture is valid
    assert not s.is_capturing()
    s.synchronize()


@pytest.mark.parametrize("library, call", [
    ("cuBLAS", lambda a, b: cupy.matmul(a, b)),        # test_stream_capture_failure_cublas
    ("cuRAND", lambda a, b: cupy.random.random(100)),  # test_stream_capture_failure_curand
])
def test_stream_capture_failure_libraries(library, call):
    s = cuda.Stream(non_blocking=True)
    a, b = cupy.random.random((3, 4)), cupy.random.random((4, 5))
    with s:
        s.begin_capture()
        with pytest.raises(NotImplementedError) as e:
            call(a, b)
        assert library in str(e.value)
        s.end_capture()
    assert not s.is_capturing()
    s.synchronize()


# ---- tests/cupy_tests/cuda_tests/test_stream.py, TestStream ----
def test_eq():
    null0, null1, null2 = cuda.Stream.null, cuda.Stream(True), cuda.Stream(True)
    null3, null4 = cuda.Stream(ptds=True), cuda.Stream()
    assert null0 == null1 and null1 == null2
    assert null2 != null3 and null2 != null4


def test_hash():
    hash(cuda.Stream.null)
    hash(cuda.Stream(True))
    hash(cuda.Stream(False))
    mapping = {cuda.Stream(): 1, cuda.Stream(): 2}
    assert len(mapping) == 2


@pytest.fixture(params=["null", "ptds"])
def stream(request):
    """test_stream.py's _get_stream, its stream_name parameter."""
    return getattr(cuda.Stream, request.param)


def test_with_statement(stream):
    stream.use()
    stream1, stream2 = cuda.Stream(), cuda.Stream()
    assert stream == cuda.get_current_stream()
    with stream1:
        assert stream1 == cuda.get_current_stream()
        with stream2:
            assert stream2 == cuda.get_current_stream()
        assert stream1 == cuda.get_current_stream()
    # the stream use() chose is "forgotten"!
    assert cuda.Stream.null == cuda.get_current_stream()


def test_use(stream):
    stream.use()
    stream1 = cuda.Stream().use()
    assert stream1 == cuda.get_current_stream()
    stream.use()
    assert stream == cuda.get_current_stream()


def test_mix_use_context(stream):
    stream.use()
    s1, s2, s3 = cuda.Stream(), cuda.Stream(), cuda.Stream()
    assert cuda.get_current_stream() == stream
    with s1:
        assert cuda.get_current_stream() == s1
        s2.use()
        assert cuda.get_current_stream() == s2
        with s3:
            assert cuda.get_current_stream() == s3
            del s2
        assert cuda.get_current_stream() == s1
    # the stream use() chose is "forgotten"!
    assert cuda.get_current_stream() == cuda.Stream.null


def test_del_default():
    """check_del(null=False, ptds=False): the current stream stays alive while it is current."""
    stream = cuda.Stream().use()
    assert stream is cuda.get_current_stream()
    stream_ptr = stream.ptr
    x = cupy.array([1, 2, 3])
    del stream
    assert stream_ptr == cuda.get_current_stream().ptr
    cuda.Stream.null.use()
    assert cuda.Stream.null is cuda.get_current_stream()
    del x


def test_create_with_flags():
    assert not cuda.Stream().is_non_blocking
    assert cuda.Stream(non_blocking=True).is_non_blocking


def test_launch_host_func():
    arrays = [cupy.random.random((2, 3)) for _ in range(100)]
    stream = cuda.Stream.null
    out = []
    for i in range(100):
        numpy_array = arrays[i].get(stream=stream)
        stream.launch_host_func(lambda t: out.append(t[0]), (i, numpy_array))
    stream.synchronize()
    assert out == list(range(100))


# ---- rules from CuPy's source that no CuPy test pins (found by review) ----
def test_every_launch_in_a_capture_waits_for_the_graph():
    """Generic calls are kernels like ours: captured, whether they make an array, write into
    out= (a ufunc's or a reduction's), or write in place (copyto); integer results too."""
    s = cuda.Stream(non_blocking=True)
    a = cupy.asarray(np.arange(6.0))
    o, total = cupy.zeros(6), cupy.zeros(())
    with s:
        s.begin_capture()
        doubled = a * 2
        cupy.add(a, 1, out=o)
        cupy.sum(a, out=total)
        cupy.copyto(a, doubled)
        biggest = a.argmax()
        g = s.end_capture()
    assert o.get().tolist() == [0.0] * 6 and float(total) == 0   # nothing ran yet
    g.launch()
    assert o.get().tolist() == [1, 2, 3, 4, 5, 6] and float(total) == 15
    assert a.get().tolist() == [0, 2, 4, 6, 8, 10] and int(biggest) == 5


def test_a_host_operand_is_refused_in_a_capture_too():
    """_kernel.pyx:147-156: the TypeError does not depend on the stream."""
    s = cuda.Stream(non_blocking=True)
    d = cupy.zeros(3)
    with s:
        s.begin_capture()
        with pytest.raises(TypeError, match="Unsupported type"):
            d += np.ones(3)
        s.end_capture()
