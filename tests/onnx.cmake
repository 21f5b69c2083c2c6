# onnx.cmake — extra ctest settings for the ONNX tests (tests/test_onnx_*.c are registered by
# tests/CMakeLists.txt). Included only for its registrations; nothing here builds the reader.
if(TARGET test_onnx_conformance)
  # The node suite runs every mapped test on the CPU and on each OpenCL device (POCL in CI).
  set_tests_properties(test_onnx_conformance PROPERTIES LABELS "onnx;conformance")
  # The suite's other small model sets (whole PyTorch-exported modules and operators), same runner.
  foreach(set pytorch-converted pytorch-operator simple)
    set(dir /usr/share/libonnx-testdata/data/${set})
    if(EXISTS ${dir})
      add_test(NAME test_onnx_conformance_${set} COMMAND test_onnx_conformance)
      set_tests_properties(test_onnx_conformance_${set} PROPERTIES LABELS "onnx;conformance" TIMEOUT 600
        ENVIRONMENT "HCG_ONNX_NODE_TESTS=${dir};HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
    endif()
  endforeach()
endif()
