"""hcg — run computation graphs across the CPU and OpenCL devices, from Python.

A thin layer over hcg's C API (libhcg, <hcg/hcg.h>) with NumPy arrays:

    import hcg, numpy as np
    hcg.devices()                                   # [{"name": "cpu", "type": "cpu", ...}, ...]
    s = hcg.Session("model.hcg", devices="auto")    # .hcg or .onnx
    out = s.run({"x": np.zeros((2, 16, 64), np.float32)})   # {"y": array, ...}
    print(s.explain())

Inputs that are C-contiguous and of the graph's dtype are passed without a copy; outputs are
arrays over the memory hcg filled (freed when the last array using it goes). Every failure raises
hcg.Error with hcg's message. Training (TrainSession) and generation (Decoder) are here too.
"""

import ctypes
import json

import numpy as np

from . import _lib as L

__all__ = ["Error", "version", "devices", "Graph", "Session", "TrainSession", "Decoder", "quantize"]

# hcg's dtypes in enum order (hcg_dtype) and their NumPy types.
_DTYPES = [np.float32, np.float16, np.int32, np.int64, np.uint8, np.bool_]


class Error(Exception):
    """A failed hcg call: the message is hcg's (hcg_last_error), status its hcg_status name."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _check(st):
    if st != 0:
        raise Error(L.hcg_status_name(st).decode(), L.hcg_last_error().decode())


def _b(s):
    return s.encode() if isinstance(s, str) else s


def version():
    """The version of the loaded libhcg ("0.2.0")."""
    return L.hcg_version().decode()


def devices():
    """Every device hcg found, as dicts (name, type, backend, description, cost, ...)."""
    out = []
    for i in range(L.hcg_device_count()):
        p = L.hcg_device_json(L.hcg_device_get(i))
        if not p:
            raise Error("out of memory", "describing a device failed")
        try:
            out.append(json.loads(ctypes.string_at(p).decode()))
        finally:
            L.hcg_free(p)
    return out


def device_notes():
    """What device discovery noted ("no OpenCL platform found: running on the CPU"), or ""."""
    return L.hcg_device_notes().decode()


# ---------------------------------------------------------------- tensors


class _Owned:
    """An hcg tensor's memory seen by NumPy (__array_interface__): freed with the last array."""

    def __init__(self, t):
        self._t = t
        c = t.contents
        self.__array_interface__ = {
            "shape": tuple(c.shape.dims[i] for i in range(c.shape.rank)),
            "typestr": np.dtype(_DTYPES[c.dtype]).str,
            "data": (c.data or 0, False),
            "version": 3,
        }

    def __del__(self):
        if self._t:
            L.hcg_tensor_free(self._t)
            self._t = None


def _to_numpy(t):
    """Takes an hcg tensor (hcg_tensor *) and gives an array over its memory, without a copy."""
    if t.contents.nbytes == 0:  # no memory to share: an empty array of the right shape
        c = t.contents
        shape = tuple(c.shape.dims[i] for i in range(c.shape.rank))
        dtype = _DTYPES[c.dtype]
        L.hcg_tensor_free(t)
        return np.zeros(shape, dtype)
    return np.asarray(_Owned(t))


class _Inputs:
    """Arrays wrapped as hcg tensors for one call (kept alive until it returns)."""

    def __init__(self, graph, values, what):
        self.arrays, self.tensors = [], []
        n = L.hcg_graph_num_inputs(graph)
        names = [L.hcg_graph_input_name(graph, i).decode() for i in range(n)]
        unknown = [k for k in values if k not in names]
        if unknown:
            raise Error("not found", "%s: the graph has no input %s (inputs: %s)"
                        % (what, ", ".join(repr(k) for k in unknown), ", ".join(names) or "none"))
        self.ptrs = (ctypes.POINTER(L.Tensor) * (n + 1))()
        for i, name in enumerate(names):
            if name not in values:
                raise Error("invalid argument", "%s: input '%s' is not given" % (what, name))
            dt = ctypes.c_int()
            _check(L.hcg_graph_input_type(graph, i, ctypes.byref(dt), None))
            want = _DTYPES[dt.value]
            # no copy when the array already has hcg's layout and dtype
            a = np.ascontiguousarray(values[name], dtype=want)
            if a.ndim > L.MAX_RANK:
                raise Error("invalid argument", "%s: input '%s' has %d dims (at most %d)" % (what, name, a.ndim,
                                                                                               L.MAX_RANK))
            shape = L.Shape(a.ndim, (ctypes.c_int64 * L.MAX_RANK)(*a.shape))
            t = ctypes.POINTER(L.Tensor)()
            _check(L.hcg_tensor_wrap(dt.value, ctypes.byref(shape), a.ctypes.data_as(ctypes.c_void_p), ctypes.byref(t)))
            self.arrays.append(a)
            self.tensors.append(t)
            self.ptrs[i] = t

    def close(self):
        for t in self.tensors:
            L.hcg_tensor_free(t)
        self.tensors = []


def _collect(graph, outs):
    n = L.hcg_graph_num_outputs(graph)
    result = {}
    for j in range(n):
        result[L.hcg_graph_output_name(graph, j).decode()] = _to_numpy(outs[j])
        outs[j] = None
    return result


# ---------------------------------------------------------------- graphs


class Graph:
    """A loaded graph (.hcg text with its safetensors, or .onnx). Sessions keep it alive."""

    def __init__(self, path):
        self._g = ctypes.c_void_p()
        _check(L.hcg_load(_b(str(path)), ctypes.byref(self._g)))
        self.path = str(path)

    @property
    def inputs(self):
        """{name: (dtype, shape)}; symbolic dims are their names ("B")."""
        out = {}
        for i in range(L.hcg_graph_num_inputs(self._g)):
            dt, shape = ctypes.c_int(), L.Shape()
            _check(L.hcg_graph_input_type(self._g, i, ctypes.byref(dt), ctypes.byref(shape)))
            dims = []
            for d in range(shape.rank):
                sym = L.hcg_graph_sym_name(self._g, shape.dims[d])
                dims.append(sym.decode() if sym else shape.dims[d])
            out[L.hcg_graph_input_name(self._g, i).decode()] = (np.dtype(_DTYPES[dt.value]), tuple(dims))
        return out

    @property
    def outputs(self):
        return [L.hcg_graph_output_name(self._g, j).decode() for j in range(L.hcg_graph_num_outputs(self._g))]

    def __del__(self):
        if getattr(self, "_g", None):
            L.hcg_graph_free(self._g)
            self._g = None


def _graph(model):
    return model if isinstance(model, Graph) else Graph(model)


# ---------------------------------------------------------------- quantization


def _patterns(ps):
    ps = [ps] if isinstance(ps, str) else list(ps or ())
    return (ctypes.c_char_p * max(len(ps), 1))(*[_b(p) for p in ps]), len(ps)


def quantize(model, out, weights="int8", group=0, scales="f32", skip=(), only=None, activations="f32",
             min_elements=0):
    """Writes out (.hcg and its .safetensors) with model's weights stored small, as `hcg quantize`
    does: weights "int8" (symmetric, a scale per output column or per `group` elements of K, the
    scales "f32" or "f16") or "f16"; skip / only: fnmatch patterns of weight names; activations="int8"
    makes the products quantize their inputs too (a CPU feature). Returns {"weights": [{"name",
    "quantized", "how", "bytes_before", "bytes_after", "shape"}...], "weights_before",
    "weights_after"} (bytes)."""
    formats = {"f16": L.WEIGHTS_F16, "int8": L.WEIGHTS_INT8}
    if weights not in formats or scales not in ("f32", "f16") or activations not in ("f32", "int8"):
        raise ValueError("weights must be f16 or int8, scales f32 or f16, activations f32 or int8")
    g = _graph(model)
    skip_arr, n_skip = _patterns(skip)
    only_arr, n_only = _patterns(only)
    opt = L.QuantizeOptions(weights=formats[weights], group=group,
                            scale_dtype=L.DTYPE_F16 if scales == "f16" else L.DTYPE_F32,
                            skip=skip_arr if n_skip else None, n_skip=n_skip,
                            only=only_arr if only is not None else None, n_only=n_only,
                            min_elements=min_elements, int8_activations=activations == "int8")
    small = ctypes.c_void_p()
    report = L.QuantizeReport()
    _check(L.hcg_quantize_graph(g._g, ctypes.byref(opt), ctypes.byref(small), ctypes.byref(report)))
    try:
        _check(L.hcg_save(small, _b(str(out))))
        entries = [report.entries[i] for i in range(report.n)]
        return {"weights": [{"name": e.name.decode(), "quantized": bool(e.quantized), "how": e.how.decode(),
                             "bytes_before": e.bytes_before, "bytes_after": e.bytes_after,
                             "shape": tuple(e.shape.dims[:e.shape.rank])} for e in entries],
                "weights_before": report.weights_before, "weights_after": report.weights_after}
    finally:
        L.hcg_quantize_report_free(ctypes.byref(report))
        L.hcg_graph_free(small)


# ---------------------------------------------------------------- sessions


class _Planned:
    """What a session planned (shared by Session, TrainSession and Decoder), and their lifetime:
    close() frees the handle (also on leaving a with block, or when collected)."""

    def _session_handle(self):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def plan(self):
        """The current plan: {"nodes": [rows], "devices": [per device], "predicted_seconds", ...}."""
        s = self._session_handle()
        info = L.PlanInfo()
        _check(L.hcg_session_plan_info(s, ctypes.byref(info)))
        rows = []
        for i in range(info.n_nodes):
            r = L.PlanNode()
            _check(L.hcg_session_plan_node(s, i, ctypes.byref(r)))
            rows.append({"name": r.name.decode(), "op": L.hcg_op_name(r.op).decode(), "device": r.device.decode(),
                         "dtype": L.hcg_dtype_name(r.dtype).decode(),
                         "shape": tuple(r.shape.dims[k] for k in range(r.shape.rank)),
                         "predicted_start": r.predicted_start, "predicted_seconds": r.predicted_seconds,
                         "measured_start": r.measured_start, "measured_seconds": r.measured_seconds})
        devs = []
        for d in range(info.n_devices):
            v = L.PlanDevice()
            _check(L.hcg_session_plan_device(s, d, ctypes.byref(v)))
            devs.append({"name": v.name.decode(), "nodes": v.n_nodes, "predicted_busy_seconds": v.predicted_busy_seconds,
                         "arena_bytes": v.arena_bytes, "arena_buffers": v.arena_buffers,
                         "arena_lower_bound": v.arena_lower_bound, "state_bytes": v.state_bytes})
        return {"nodes": rows, "devices": devs, "segments": info.n_segments, "copies": info.n_copies,
                "rewrites": info.n_rewrites, "predicted_seconds": info.predicted_seconds,
                "plan_seconds": info.plan_seconds, "setup_seconds": info.setup_seconds,
                "bind_seconds": info.bind_seconds, "measured": info.measured,
                "last_run_seconds": info.last_run_seconds}

    def explain(self):
        """The placement table as text (what `hcg run --explain` prints)."""
        p = L.hcg_session_explain_text(self._session_handle())
        if not p:
            _check(L.hcg_session_plan_info(self._session_handle(), ctypes.byref(L.PlanInfo())))
            raise Error("internal error", L.hcg_last_error().decode())
        try:
            return ctypes.string_at(p).decode()
        finally:
            L.hcg_free(p)

    def node_device(self, node):
        """Where a node of the graph runs in the current plan (None: it does not run there)."""
        d = L.hcg_session_node_device(self._session_handle(), _b(node))
        return d.decode() if d else None

    def write_trace(self, path):
        """A Chrome trace (Perfetto, chrome://tracing) of the last run."""
        _check(L.hcg_session_write_trace(self._session_handle(), _b(str(path))))


class Session(_Planned):
    """A graph on a set of devices: hcg places every node, keeps weights on the devices and caches a
    plan per input shape. devices: "auto", "cpu", "opencl:0,cpu", "gpu", ... (hcg_devices_select)."""

    def __init__(self, model, devices="auto", profile=False, passes=None, max_memory=None, quiet=False):
        self.graph = _graph(model)
        self._s = ctypes.c_void_p()
        opt = L.SessionOptions(_b(devices) if devices else None, profile, _b(max_memory) if max_memory else None,
                               quiet, _b(passes) if passes else None)
        _check(L.hcg_session_new(self.graph._g, ctypes.byref(opt), ctypes.byref(self._s)))

    def _session_handle(self):
        if not self._s:
            raise Error("invalid argument", "the session is closed")
        return self._s

    def run(self, inputs):
        """{input name: array} -> {output name: array}."""
        ins = _Inputs(self.graph._g, inputs, "run")
        try:
            outs = (ctypes.POINTER(L.Tensor) * (L.hcg_graph_num_outputs(self.graph._g) + 1))()
            _check(L.hcg_session_run(self._session_handle(), ins.ptrs, outs))
            return _collect(self.graph._g, outs)
        finally:
            ins.close()

    def prepare(self, shapes):
        """Plans for {input name: shape} without running (the plan becomes the current one)."""
        g = self.graph._g
        n = L.hcg_graph_num_inputs(g)
        arr = (L.Shape * (n + 1))()
        for i in range(n):
            name = L.hcg_graph_input_name(g, i).decode()
            if name not in shapes:
                raise Error("invalid argument", "prepare: no shape for input '%s'" % name)
            dims = tuple(shapes[name])
            arr[i] = L.Shape(len(dims), (ctypes.c_int64 * L.MAX_RANK)(*dims))
        _check(L.hcg_session_prepare(self._session_handle(), arr))

    def replan(self):
        """Forgets the cached plans (the next run places again, with measured times if profiled)."""
        _check(L.hcg_session_replan(self._session_handle()))

    @property
    def warnings(self):
        return L.hcg_session_warnings(self._session_handle()).decode()

    def close(self):
        if getattr(self, "_s", None):
            L.hcg_session_free(self._s)
            self._s = None


# ---------------------------------------------------------------- training

_OPTIMIZERS = {"sgd": 0, "adam": 1, "adamw": 2}
_SCHEDULES = {"constant": 0, "cosine": 1, "linear": 2}


class TrainSession(_Planned):
    """Trains a graph's f32 params to minimise its scalar output `loss` on the selected devices
    (hcg_train_session_new: PyTorch's SGD, Adam and AdamW update rules)."""

    def __init__(self, model, loss, optimizer="sgd", lr=0.01, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, beta1=0.0, beta2=0.0, eps=0.0, clip_norm=0.0, schedule="constant",
                 warmup_steps=0, total_steps=0, min_lr=0.0, freeze=(), devices="auto", profile=False):
        if optimizer not in _OPTIMIZERS:
            raise Error("invalid argument", "optimizer must be one of %s" % ", ".join(_OPTIMIZERS))
        if schedule not in _SCHEDULES:
            raise Error("invalid argument", "schedule must be one of %s" % ", ".join(_SCHEDULES))
        self.graph = _graph(model)
        self._freeze = (ctypes.c_char_p * (len(freeze) + 1))(*[_b(f) for f in freeze])
        opt = L.TrainOptions(loss=_b(loss), optimizer=_OPTIMIZERS[optimizer], lr=lr, momentum=momentum,
                             dampening=dampening, nesterov=nesterov, weight_decay=weight_decay, beta1=beta1,
                             beta2=beta2, eps=eps, clip_norm=clip_norm, schedule=_SCHEDULES[schedule],
                             warmup_steps=warmup_steps, total_steps=total_steps, min_lr=min_lr,
                             freeze=self._freeze, n_freeze=len(freeze), devices=_b(devices) if devices else None,
                             profile=profile)
        self._t = ctypes.c_void_p()
        _check(L.hcg_train_session_new(self.graph._g, ctypes.byref(opt), ctypes.byref(self._t)))

    def _handle(self):
        if not self._t:
            raise Error("invalid argument", "the training session is closed")
        return self._t

    def _session_handle(self):
        return L.hcg_train_get_session(self._handle())

    def step(self, batch):
        """One step on {input name: array}; returns the loss."""
        ins = _Inputs(self.graph._g, batch, "step")
        try:
            loss = ctypes.c_float()
            _check(L.hcg_train_step(self._handle(), ins.ptrs, ctypes.byref(loss)))
            return float(loss.value)
        finally:
            ins.close()

    def eval(self, inputs):
        """Runs the graph with the current parameters: {output name: array}."""
        ins = _Inputs(self.graph._g, inputs, "eval")
        try:
            outs = (ctypes.POINTER(L.Tensor) * (L.hcg_graph_num_outputs(self.graph._g) + 1))()
            _check(L.hcg_train_eval(self._handle(), ins.ptrs, outs))
            return _collect(self.graph._g, outs)
        finally:
            ins.close()

    @property
    def steps_done(self):
        return int(L.hcg_train_steps_done(self._handle()))

    @property
    def params(self):
        """The trainable parameters' names."""
        t = self._handle()
        return [L.hcg_train_param_name(t, i).decode() for i in range(L.hcg_train_num_params(t))]

    def get_param(self, name):
        out = ctypes.POINTER(L.Tensor)()
        _check(L.hcg_train_get_param(self._handle(), _b(name), ctypes.byref(out)))
        return _to_numpy(out)

    def save(self, path):
        """Every trainable parameter to a safetensors file."""
        _check(L.hcg_train_save(self._handle(), _b(str(path))))

    def save_model(self, path):
        """The whole model with the trained values (path.hcg and its .safetensors)."""
        _check(L.hcg_train_save_model(self._handle(), _b(str(path))))

    def close(self):
        if getattr(self, "_t", None):
            L.hcg_train_session_free(self._t)
            self._t = None


# ---------------------------------------------------------------- generation


class Decoder(_Planned):
    """Generates tokens with a decoder graph (ids -> logits; ONNX exports with or without
    past_key_values, or hcg's .hcg decoders with state caches: docs/generate.md)."""

    KINDS = {1: "recompute", 2: "past_kv", 3: "state_kv"}

    def __init__(self, model, devices="auto", passes=None, pipeline=False, profile=False):
        self.graph = _graph(model)
        opt = L.DecoderOptions(_b(devices) if devices else None, _b(passes) if passes else None, pipeline, profile)
        self._d = ctypes.c_void_p()
        _check(L.hcg_decoder_new(self.graph._g, ctypes.byref(opt), ctypes.byref(self._d)))

    def _handle(self):
        if not self._d:
            raise Error("invalid argument", "the decoder is closed")
        return self._d

    def _session_handle(self):
        s = L.hcg_decoder_get_session(self._handle())
        if not s:
            raise Error("not found", "the decoder has not generated yet")
        return s

    @property
    def kind(self):
        return self.KINDS.get(L.hcg_decoder_get_kind(self._handle()), "?")

    @property
    def max_positions(self):
        return int(L.hcg_decoder_max_positions(self._handle()))

    def generate(self, prompt, max_new_tokens, greedy=None, temperature=1.0, top_k=0, top_p=1.0, seed=0, eos=None,
                 recompute=False, bucket=0, on_step=None):
        """Tokens after prompt (int64 [B, S]) -> int64 [B, S + N]. Greedy unless a sampling option
        (temperature, top_k, top_p) is given (then seed makes it repeatable); eos ends a row.
        on_step(step, tokens) sees each step's new token per row; an exception it raises stops the
        generation and is raised here."""
        if greedy is None:
            greedy = temperature == 1.0 and top_k == 0 and top_p == 1.0
        p = np.ascontiguousarray(prompt, dtype=np.int64)
        if p.ndim != 2:
            raise Error("invalid argument", "the prompt must be token ids [batch, length]")
        shape = L.Shape(2, (ctypes.c_int64 * L.MAX_RANK)(*p.shape))
        t = L.Tensor(3, shape, p.ctypes.data_as(ctypes.c_void_p), p.nbytes, False)  # HCG_I64, borrowed
        stopped = []

        def step(ctx, k, tokens, batch):
            try:
                on_step(int(k), np.ctypeslib.as_array(tokens, shape=(batch,)).copy())
            except BaseException as e:  # noqa: BLE001 - the generation stops; the exception is raised below
                stopped.append(e)
                return L.hcg_error(1, b"%s", b"stopped by on_step")
            return 0

        cb = L.OnStep(step) if on_step else L.OnStep()
        opt = L.GenerateOptions(max_new_tokens=max_new_tokens, greedy=greedy, temperature=temperature, top_k=top_k,
                                top_p=top_p, seed=seed, has_eos=eos is not None, eos=eos or 0, recompute=recompute,
                                bucket=bucket, on_step=cb, ctx=None)
        out = ctypes.POINTER(L.Tensor)()
        st = L.hcg_decoder_generate(self._handle(), ctypes.byref(t), ctypes.byref(opt), ctypes.byref(out))
        if stopped:
            raise stopped[0]
        _check(st)
        return _to_numpy(out)

    @property
    def step_seconds(self):
        """Seconds of each step of the last generation: [0] the prompt, then one per new token."""
        p = ctypes.POINTER(ctypes.c_double)()
        n = L.hcg_decoder_step_times(self._handle(), ctypes.byref(p))
        return [p[i] for i in range(n)]

    def close(self):
        if getattr(self, "_d", None):
            L.hcg_decoder_free(self._d)
            self._d = None

