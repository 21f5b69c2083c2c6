"""_lib.py — finds libhcg and declares the C API of <hcg/hcg.h> for ctypes.

The structures here mirror hcg.h field for field (same order, same C types), so ctypes lays
them out as the C compiler does. The library is looked for, in order, at $HCG_LIBRARY, where the
loader finds libhcg.so.MAJOR.MINOR (LD_LIBRARY_PATH, the system's library folders), and in the
libdir of `pkg-config hcg` (PKG_CONFIG_PATH).
"""

import ctypes
import ctypes.util
import os
import subprocess

# The C API this package was written against (hcg.h's HCG_VERSION_MAJOR / MINOR): before 1.0 a
# new minor version may change the ABI, so the library must have the same major.minor.
API_MAJOR, API_MINOR = 0, 2

MAX_RANK = 8
MAX_DEVICES = 16


class LibraryNotFound(ImportError):
    pass


def _candidates():
    env = os.environ.get("HCG_LIBRARY")
    if env:
        yield env
        return
    yield "libhcg.so.%d.%d" % (API_MAJOR, API_MINOR)
    found = ctypes.util.find_library("hcg")
    if found:
        yield found
    try:
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "hcg"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        libdir = ""
    if libdir:
        yield os.path.join(libdir, "libhcg.so.%d.%d" % (API_MAJOR, API_MINOR))
        yield os.path.join(libdir, "libhcg.so")


def _load():
    tried = []
    for name in _candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            tried.append("%s (%s)" % (name, e))
    raise LibraryNotFound("libhcg %d.%d was not found: install hcg (cmake --install), put its lib folder on "
                          "LD_LIBRARY_PATH or PKG_CONFIG_PATH, or set HCG_LIBRARY to libhcg.so. Tried: %s"
                          % (API_MAJOR, API_MINOR, "; ".join(tried) or "nothing"))


lib = _load()

# ---------------------------------------------------------------- structures (hcg.h)

c_status = ctypes.c_int
c_id = ctypes.c_int32


class Shape(ctypes.Structure):
    _fields_ = [("rank", ctypes.c_int), ("dims", ctypes.c_int64 * MAX_RANK)]


class Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("shape", Shape), ("data", ctypes.c_void_p), ("nbytes", ctypes.c_size_t),
                ("owns_data", ctypes.c_bool)]


class SessionOptions(ctypes.Structure):
    _fields_ = [("devices", ctypes.c_char_p), ("profile", ctypes.c_bool), ("max_memory", ctypes.c_char_p),
                ("quiet", ctypes.c_bool), ("passes", ctypes.c_char_p)]


class PlanInfo(ctypes.Structure):
    _fields_ = [("n_nodes", ctypes.c_int), ("n_devices", ctypes.c_int), ("n_segments", ctypes.c_int),
                ("n_copies", ctypes.c_int), ("n_rewrites", ctypes.c_int), ("predicted_seconds", ctypes.c_double),
                ("plan_seconds", ctypes.c_double), ("setup_seconds", ctypes.c_double),
                ("bind_seconds", ctypes.c_double), ("measured", ctypes.c_bool),
                ("last_run_seconds", ctypes.c_double)]


class PlanNode(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("op", ctypes.c_int), ("device", ctypes.c_char_p), ("dtype", ctypes.c_int),
                ("shape", Shape), ("predicted_start", ctypes.c_double), ("predicted_seconds", ctypes.c_double),
                ("measured_start", ctypes.c_double), ("measured_seconds", ctypes.c_double)]


class PlanDevice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("n_nodes", ctypes.c_int), ("predicted_busy_seconds", ctypes.c_double),
                ("arena_bytes", ctypes.c_size_t), ("arena_buffers", ctypes.c_int),
                ("arena_lower_bound", ctypes.c_size_t), ("state_bytes", ctypes.c_size_t)]


class TrainOptions(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_char_p), ("optimizer", ctypes.c_int), ("lr", ctypes.c_double),
                ("momentum", ctypes.c_double), ("dampening", ctypes.c_double), ("nesterov", ctypes.c_bool),
                ("weight_decay", ctypes.c_double), ("beta1", ctypes.c_double), ("beta2", ctypes.c_double),
                ("eps", ctypes.c_double), ("clip_norm", ctypes.c_double), ("schedule", ctypes.c_int),
                ("warmup_steps", ctypes.c_int64), ("total_steps", ctypes.c_int64), ("min_lr", ctypes.c_double),
                ("freeze", ctypes.POINTER(ctypes.c_char_p)), ("n_freeze", ctypes.c_int),
                ("devices", ctypes.c_char_p), ("profile", ctypes.c_bool), ("distributed", ctypes.c_bool),
                ("bucket_bytes", ctypes.c_int64)]


class DecoderOptions(ctypes.Structure):
    _fields_ = [("devices", ctypes.c_char_p), ("passes", ctypes.c_char_p), ("pipeline", ctypes.c_bool),
                ("profile", ctypes.c_bool)]


OnStep = ctypes.CFUNCTYPE(c_status, ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64), ctypes.c_int64)


class GenerateOptions(ctypes.Structure):
    _fields_ = [("max_new_tokens", ctypes.c_int64), ("greedy", ctypes.c_bool), ("temperature", ctypes.c_double),
                ("top_k", ctypes.c_int64), ("top_p", ctypes.c_double), ("seed", ctypes.c_uint64),
                ("has_eos", ctypes.c_bool), ("eos", ctypes.c_int64), ("recompute", ctypes.c_bool),
                ("bucket", ctypes.c_int64), ("on_step", OnStep), ("ctx", ctypes.c_void_p)]


class QuantizeOptions(ctypes.Structure):
    _fields_ = [("weights", ctypes.c_int), ("group", ctypes.c_int64), ("scale_dtype", ctypes.c_int),
                ("skip", ctypes.POINTER(ctypes.c_char_p)), ("n_skip", ctypes.c_int),
                ("only", ctypes.POINTER(ctypes.c_char_p)), ("n_only", ctypes.c_int),
                ("min_elements", ctypes.c_int64), ("int8_activations", ctypes.c_bool)]


class QuantizeEntry(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 256), ("dtype", ctypes.c_int), ("shape", Shape), ("quantized", ctypes.c_bool),
                ("bytes_before", ctypes.c_size_t), ("bytes_after", ctypes.c_size_t), ("how", ctypes.c_char * 128)]


class QuantizeReport(ctypes.Structure):
    _fields_ = [("entries", ctypes.POINTER(QuantizeEntry)), ("n", ctypes.c_int),
                ("weights_before", ctypes.c_size_t), ("weights_after", ctypes.c_size_t)]


WEIGHTS_F16, WEIGHTS_INT8 = 1, 2  # hcg_weight_format
DTYPE_F32, DTYPE_F16 = 0, 1


# ---------------------------------------------------------------- functions


def _fn(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


P = ctypes.POINTER
vp = ctypes.c_void_p
cp = ctypes.c_char_p

hcg_version = _fn("hcg_version", cp)
hcg_version_number = _fn("hcg_version_number", ctypes.c_int)
hcg_free = _fn("hcg_free", None, vp)
hcg_status_name = _fn("hcg_status_name", cp, c_status)
hcg_last_error = _fn("hcg_last_error", cp)
hcg_error = lib.hcg_error  # variadic: hcg_error(status, b"%s", b"message")
hcg_error.restype = c_status
hcg_dtype_name = _fn("hcg_dtype_name", cp, ctypes.c_int)

hcg_tensor_wrap = _fn("hcg_tensor_wrap", c_status, ctypes.c_int, P(Shape), vp, P(P(Tensor)))
hcg_tensor_free = _fn("hcg_tensor_free", None, P(Tensor))

hcg_load = _fn("hcg_load", c_status, cp, P(vp))
hcg_graph_free = _fn("hcg_graph_free", None, vp)
hcg_save = _fn("hcg_save", c_status, vp, cp)
hcg_quantize_graph = _fn("hcg_quantize_graph", c_status, vp, P(QuantizeOptions), P(vp), P(QuantizeReport))
hcg_quantize_report_free = _fn("hcg_quantize_report_free", None, P(QuantizeReport))
hcg_graph_num_inputs = _fn("hcg_graph_num_inputs", ctypes.c_int, vp)
hcg_graph_num_outputs = _fn("hcg_graph_num_outputs", ctypes.c_int, vp)
hcg_graph_input_name = _fn("hcg_graph_input_name", cp, vp, ctypes.c_int)
hcg_graph_output_name = _fn("hcg_graph_output_name", cp, vp, ctypes.c_int)
hcg_graph_input_type = _fn("hcg_graph_input_type", c_status, vp, ctypes.c_int, P(ctypes.c_int), P(Shape))
hcg_graph_sym_name = _fn("hcg_graph_sym_name", cp, vp, ctypes.c_int64)

hcg_device_count = _fn("hcg_device_count", ctypes.c_int)
hcg_device_get = _fn("hcg_device_get", vp, ctypes.c_int)
hcg_device_json = _fn("hcg_device_json", vp, vp)
hcg_device_notes = _fn("hcg_device_notes", cp)

hcg_session_new = _fn("hcg_session_new", c_status, vp, P(SessionOptions), P(vp))
hcg_session_free = _fn("hcg_session_free", None, vp)
hcg_session_run = _fn("hcg_session_run", c_status, vp, P(P(Tensor)), P(P(Tensor)))
hcg_session_prepare = _fn("hcg_session_prepare", c_status, vp, P(Shape))
hcg_session_replan = _fn("hcg_session_replan", c_status, vp)
hcg_session_warnings = _fn("hcg_session_warnings", cp, vp)
hcg_session_write_trace = _fn("hcg_session_write_trace", c_status, vp, cp)
hcg_session_plan_info = _fn("hcg_session_plan_info", c_status, vp, P(PlanInfo))
hcg_session_plan_node = _fn("hcg_session_plan_node", c_status, vp, ctypes.c_int, P(PlanNode))
hcg_session_plan_device = _fn("hcg_session_plan_device", c_status, vp, ctypes.c_int, P(PlanDevice))
hcg_session_node_device = _fn("hcg_session_node_device", cp, vp, cp)
hcg_session_explain_text = _fn("hcg_session_explain_text", vp, vp)
hcg_op_name = _fn("hcg_op_name", cp, ctypes.c_int)

hcg_train_session_new = _fn("hcg_train_session_new", c_status, vp, P(TrainOptions), P(vp))
hcg_train_session_free = _fn("hcg_train_session_free", None, vp)
hcg_train_step = _fn("hcg_train_step", c_status, vp, P(P(Tensor)), P(ctypes.c_float))
hcg_train_eval = _fn("hcg_train_eval", c_status, vp, P(P(Tensor)), P(P(Tensor)))
hcg_train_steps_done = _fn("hcg_train_steps_done", ctypes.c_int64, vp)
hcg_train_num_params = _fn("hcg_train_num_params", ctypes.c_int, vp)
hcg_train_param_name = _fn("hcg_train_param_name", cp, vp, ctypes.c_int)
hcg_train_get_param = _fn("hcg_train_get_param", c_status, vp, cp, P(P(Tensor)))
hcg_train_save = _fn("hcg_train_save", c_status, vp, cp)
hcg_train_save_model = _fn("hcg_train_save_model", c_status, vp, cp)
hcg_train_get_session = _fn("hcg_train_get_session", vp, vp)

hcg_decoder_new = _fn("hcg_decoder_new", c_status, vp, P(DecoderOptions), P(vp))
hcg_decoder_free = _fn("hcg_decoder_free", None, vp)
hcg_decoder_get_kind = _fn("hcg_decoder_get_kind", ctypes.c_int, vp)
hcg_decoder_max_positions = _fn("hcg_decoder_max_positions", ctypes.c_int64, vp)
hcg_decoder_generate = _fn("hcg_decoder_generate", c_status, vp, P(Tensor), P(GenerateOptions), P(P(Tensor)))
hcg_decoder_step_times = _fn("hcg_decoder_step_times", ctypes.c_int64, vp, P(P(ctypes.c_double)))
hcg_decoder_get_session = _fn("hcg_decoder_get_session", vp, vp)


def check_version():
    got = hcg_version_number()
    if got // 10000 != API_MAJOR or got // 100 % 100 != API_MINOR:
        raise ImportError("libhcg %s does not match this package (written for the %d.%d API)"
                          % (hcg_version().decode(), API_MAJOR, API_MINOR))


check_version()
