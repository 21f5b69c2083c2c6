# multi_device.cmake — the end-to-end, executor and CLI tests again with two POCL devices
# (POCL_DEVICES="pthread pthread"), so results are compared across opencl:0, opencl:1 and pairs of
# them, and two ensemble members are shown to overlap on two real OpenCL devices. Where OpenCL is
# not POCL the variable is ignored and the tests use the devices present.
foreach(t test_e2e_models test_exec_multi)
  if(TARGET ${t})
    add_test(NAME ${t}_two_opencl COMMAND ${t})
    set_tests_properties(${t}_two_opencl PROPERTIES
      ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;POCL_DEVICES=pthread pthread"
      TIMEOUT 900)
  endif()
endforeach()
