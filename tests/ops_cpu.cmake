# The golden op cases again with a tiny parallel grain and more threads than cores, so every
# kernel's threaded path (chunk boundaries inside rows, tiles, batches) runs on the small cases.
if(TARGET test_ops_cpu)
  add_test(NAME test_ops_cpu_threaded COMMAND test_ops_cpu)
  set_tests_properties(test_ops_cpu_threaded PROPERTIES
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_CPU_GRAIN=3;HCG_CPU_THREADS=5"
    TIMEOUT 600)
endif()

# And with the vectorised loops of the lower instruction sets (cpu_simd.h picks the best one the
# processor has; HCG_SIMD forces AVX2 + FMA or the baseline build), so every variant is checked
# against the golden outputs on whatever machine runs the suite.
if(TARGET test_ops_cpu)
  foreach(isa avx2 baseline)
    add_test(NAME test_ops_cpu_${isa} COMMAND test_ops_cpu)
    set_tests_properties(test_ops_cpu_${isa} PROPERTIES
      ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_SIMD=${isa}" TIMEOUT 600)
  endforeach()
endif()

# test_quant with the baseline loops: the integer products (matmul_integer, int8 activations) then
# take the plain loop instead of oneDNN's VNNI GEMM, which must give the same integers.
if(TARGET test_quant)
  add_test(NAME test_quant_baseline COMMAND test_quant)
  set_tests_properties(test_quant_baseline PROPERTIES
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_SIMD=baseline" TIMEOUT 600)
endif()
