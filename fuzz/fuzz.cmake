# fuzz.cmake — libFuzzer targets (HCG_FUZZ=ON, clang only), included from graph/onnx/onnx.cmake:
# fuzz_onnx (the ONNX reader), fuzz_text (the .hcg reader, binding and constant folding), fuzz_npy
# and fuzz_safetensors. Everything in a fuzz build is instrumented for coverage and built with ASan
# and UBSan, so use a build folder of its own:
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DHCG_FUZZ=ON -DHCG_OPENCL=OFF
#   cmake --build build-fuzz && fuzz/run_fuzz.sh build-fuzz/fuzz_text 30
# or, building and running every target: fuzz/run_fuzz.sh --build 30
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "HCG_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
foreach(target fuzz_onnx fuzz_text fuzz_npy fuzz_safetensors)
  add_executable(${target} ${CMAKE_SOURCE_DIR}/fuzz/${target}.c)
  target_link_libraries(${target} PRIVATE hcg_internal)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
endforeach()
