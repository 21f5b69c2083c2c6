# onnx.cmake — extra ctest settings for the ONNX tests (tests/test_onnx_*.c are registered by
# tests/CMakeLists.txt). Included only for its registrations; nothing here builds the reader.
if(TARGET test_onnx_conformance)
  # The node suite runs every mapped test on the CPU and on each OpenCL device (POCL in CI).
  set_tests_properties(test_onnx_conformance PROPERTIES LABELS "onnx;conformance")
endif()
