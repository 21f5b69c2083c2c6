# train.cmake — the training tests that compare with PyTorch (test_train_parity: tests/train/,
# test_grad: tests/grad/, test_workloads: tests/workloads/) again on OpenCL: on opencl:0, and on two
# POCL devices (POCL_DEVICES="pthread pthread") with the scheduler free to split each step between
# them. Where OpenCL is not POCL the variable is ignored and the tests use the devices present;
# devices that are not present: a note, nothing tested (tl_test_devices).
foreach(t test_train_parity test_grad test_workloads)
  if(TARGET ${t} AND HCG_OPENCL)
    add_test(NAME ${t}_opencl COMMAND ${t})
    set_tests_properties(${t}_opencl PROPERTIES
      ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_TEST_DEVICES=opencl:0"
      TIMEOUT 600)
    add_test(NAME ${t}_two_opencl COMMAND ${t})
    set_tests_properties(${t}_two_opencl PROPERTIES
      ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_TEST_DEVICES=opencl:0,opencl:1;POCL_DEVICES=pthread pthread"
      TIMEOUT 600)
  endif()
endforeach()
# Distillation with the teachers pinned across two POCL devices and the student on the cpu.
if(TARGET test_workloads AND HCG_OPENCL)
  add_test(NAME test_workloads_three_devices COMMAND test_workloads)
  set_tests_properties(test_workloads_three_devices PROPERTIES
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_TEST_DEVICES=opencl:0,opencl:1,cpu;POCL_DEVICES=pthread pthread"
    TIMEOUT 600)
endif()
