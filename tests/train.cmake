# train.cmake — training parity with PyTorch (test_train_parity, tests/train/) again on OpenCL: on
# opencl:0, and on two POCL devices (POCL_DEVICES="pthread pthread") with the scheduler free to
# split the step between them. Where OpenCL is not POCL the variable is ignored and the tests use
# the devices present; without an OpenCL device they pass with a note.
if(TARGET test_train_parity AND HCG_OPENCL)
  add_test(NAME test_train_parity_opencl COMMAND test_train_parity)
  set_tests_properties(test_train_parity_opencl PROPERTIES
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_TEST_DEVICES=opencl:0"
    TIMEOUT 600)
  add_test(NAME test_train_parity_two_opencl COMMAND test_train_parity)
  set_tests_properties(test_train_parity_two_opencl PROPERTIES
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_TEST_DEVICES=opencl:0,opencl:1;POCL_DEVICES=pthread pthread"
    TIMEOUT 600)
endif()
