# faults.cmake — the fault tests again with two POCL devices (POCL_DEVICES="pthread pthread"): a
# fault on one OpenCL device moves its work to the other.
if(TARGET test_faults)
  add_test(NAME test_faults_two_opencl COMMAND test_faults)
  set_tests_properties(test_faults_two_opencl PROPERTIES
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;POCL_DEVICES=pthread pthread"
    TIMEOUT 900)
endif()
