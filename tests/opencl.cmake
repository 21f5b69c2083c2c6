# OpenCL: the backend tests again with two POCL devices (POCL_DEVICES="pthread pthread"), so device
# numbering, selection and graphs split over two OpenCL devices run in CI. On machines whose
# OpenCL is not POCL the variable is ignored and the tests see the real devices again.
if(TARGET test_opencl_ops)
  add_test(NAME test_opencl_ops_two_devices COMMAND test_opencl_ops)
  set_tests_properties(test_opencl_ops_two_devices PROPERTIES
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;POCL_DEVICES=pthread pthread"
    TIMEOUT 900)
endif()
# test_opencl_gemm compares CLBlast with cblas_sgemm: it needs the CBLAS header.
if(TARGET test_opencl_gemm AND HCG_BLAS)
  target_include_directories(test_opencl_gemm PRIVATE ${CBLAS_INCLUDE_DIR})
endif()
