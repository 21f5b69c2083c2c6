# fuzz.cmake — the libFuzzer targets as ctests, each for a bounded time (only in an HCG_FUZZ
# build: see fuzz/fuzz.cmake; scripts/test.sh runs them through fuzz/run_fuzz.sh --build instead).
foreach(target fuzz_onnx fuzz_text fuzz_npy fuzz_safetensors)
  if(TARGET ${target})
    add_test(NAME ${target} COMMAND ${CMAKE_SOURCE_DIR}/fuzz/run_fuzz.sh $<TARGET_FILE:${target}> 30)
    set_tests_properties(${target} PROPERTIES LABELS "fuzz" TIMEOUT 120
      ENVIRONMENT "HCG_FUZZ_ARTIFACTS=${CMAKE_BINARY_DIR}")
  endif()
endforeach()
