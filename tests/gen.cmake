# gen.cmake — text generation (tests/test_generate.c): a fixture exports models/gpt's GPT to ONNX
# into the build tree once (models/gpt/export_onnx.py with Debian's python3-torch: gpt.onnx, kind 1,
# and gpt_past.onnx with past_key_values / present, kind 2), a second one a real Hugging Face GPT-2
# (transformers, installed into the build tree by the MiniLM fixture) with its own greedy tokens
# (tests/gen/export_hf_gpt2.py); then test_generate runs the kinds of decoder on cpu and opencl:0,
# and again with two POCL devices (POCL_DEVICES="pthread pthread").
add_test(NAME gpt_export COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/models/gpt/export_onnx.py ${CMAKE_BINARY_DIR}/gpt)
set_tests_properties(gpt_export PROPERTIES FIXTURES_SETUP gpt_onnx TIMEOUT 600)
add_test(NAME hf_gpt2_export COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${CMAKE_BINARY_DIR}/minilm/py HF_HUB_OFFLINE=1
  TRANSFORMERS_OFFLINE=1 /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/gen/export_hf_gpt2.py ${CMAKE_BINARY_DIR}/hf_gpt2)
set_tests_properties(hf_gpt2_export PROPERTIES FIXTURES_SETUP gpt_onnx FIXTURES_REQUIRED minilm TIMEOUT 600)
if(TARGET test_generate)
  set_tests_properties(test_generate PROPERTIES FIXTURES_REQUIRED gpt_onnx
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_GPT_ONNX=${CMAKE_BINARY_DIR}/gpt;HCG_HF_GPT2=${CMAKE_BINARY_DIR}/hf_gpt2")
  add_test(NAME test_generate_two_opencl COMMAND test_generate)
  set_tests_properties(test_generate_two_opencl PROPERTIES FIXTURES_REQUIRED gpt_onnx TIMEOUT 900
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_GPT_ONNX=${CMAKE_BINARY_DIR}/gpt;HCG_HF_GPT2=${CMAKE_BINARY_DIR}/hf_gpt2;HCG_TEST_TWO_DEVICES=1;POCL_DEVICES=pthread pthread")
endif()
