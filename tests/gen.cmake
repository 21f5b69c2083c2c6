# gen.cmake — text generation (tests/test_generate.c): a fixture exports models/gpt's GPT to ONNX
# into the build tree once (models/gpt/export_onnx.py with Debian's python3-torch: gpt.onnx, kind 1,
# and gpt_past.onnx with past_key_values / present, kind 2), then test_generate runs the three kinds
# of decoder on cpu and opencl:0, and again with two POCL devices (POCL_DEVICES="pthread pthread").
add_test(NAME gpt_export COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/models/gpt/export_onnx.py ${CMAKE_BINARY_DIR}/gpt)
set_tests_properties(gpt_export PROPERTIES FIXTURES_SETUP gpt_onnx TIMEOUT 600)
if(TARGET test_generate)
  set_tests_properties(test_generate PROPERTIES FIXTURES_REQUIRED gpt_onnx
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_GPT_ONNX=${CMAKE_BINARY_DIR}/gpt")
  add_test(NAME test_generate_two_opencl COMMAND test_generate)
  set_tests_properties(test_generate_two_opencl PROPERTIES FIXTURES_REQUIRED gpt_onnx TIMEOUT 900
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_GPT_ONNX=${CMAKE_BINARY_DIR}/gpt;HCG_TEST_TWO_DEVICES=1;POCL_DEVICES=pthread pthread")
endif()
