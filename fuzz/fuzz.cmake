# fuzz.cmake — libFuzzer targets (HCG_FUZZ=ON, clang only), included from graph/onnx/onnx.cmake.
# Everything in a fuzz build is instrumented for coverage and built with ASan and UBSan, so use a
# build folder of its own:
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DHCG_FUZZ=ON -DHCG_OPENCL=OFF
#   cmake --build build-fuzz --target fuzz_onnx && fuzz/run_fuzz.sh build-fuzz/fuzz_onnx 30
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "HCG_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
add_executable(fuzz_onnx ${CMAKE_SOURCE_DIR}/fuzz/fuzz_onnx.c)
target_link_libraries(fuzz_onnx PRIVATE hcg)
target_link_options(fuzz_onnx PRIVATE -fsanitize=fuzzer)
