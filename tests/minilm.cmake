# minilm.cmake — the real all-MiniLM-L6-v2 (models/minilm/): a fixture exports it to ONNX into the
# build tree once (models/minilm/export.sh: pip --target, Debian's python3-torch), then
# test_minilm runs it on cpu, opencl:0 and auto against the committed reference embeddings, and
# so does models/minilm/minilm.hcg, which reads the package's model.safetensors itself.
add_test(NAME minilm_export COMMAND ${CMAKE_SOURCE_DIR}/models/minilm/export.sh ${CMAKE_BINARY_DIR})
set_tests_properties(minilm_export PROPERTIES FIXTURES_SETUP minilm TIMEOUT 900 LABELS "minilm")
if(TARGET test_minilm)
  set_tests_properties(test_minilm PROPERTIES FIXTURES_REQUIRED minilm LABELS "minilm;no_sanitizer"
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_MINILM_ONNX=${CMAKE_BINARY_DIR}/minilm/minilm.onnx;HCG_MINILM_HCG=${CMAKE_BINARY_DIR}/minilm/hcg/minilm.hcg")
endif()
# test_minilm_quant: the same model with f16 and int8 weights (hcg quantize's library call, written and
# loaded back), against the same PyTorch embeddings, with file sizes and resident weight memory.
if(TARGET test_minilm_quant)
  set_tests_properties(test_minilm_quant PROPERTIES FIXTURES_REQUIRED minilm LABELS "minilm;no_sanitizer"
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_MINILM_ONNX=${CMAKE_BINARY_DIR}/minilm/minilm.onnx;HCG_MINILM_HCG=${CMAKE_BINARY_DIR}/minilm/hcg/minilm.hcg")
endif()
