# mpi.cmake — the multi-rank tests, under mpirun with 2 and 3 ranks on this machine
# (--oversubscribe: more ranks than cores; --allow-run-as-root where the tests run as root, as in
# CI). Without MPI the tests run alone and check that hcg says the feature is absent.
#
# Under the sanitizers, Open MPI keeps its plugins loaded (unloaded, their allocations could not be
# told from hcg's) and LeakSanitizer unwinds fully (Open MPI has no frame pointers), so that
# tests/lsan.supp's entries for Open MPI match.
set(HCG_MPI_TEST_ENV "OMPI_MCA_mca_base_component_disable_dlclose=1")
if(HCG_SANITIZE)
  list(APPEND HCG_MPI_TEST_ENV
    "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0")
endif()
foreach(t test_train_dist test_workloads_dist test_dist_cli)
  if(TARGET ${t})
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT ${HCG_MPI_TEST_ENV})
  endif()
endforeach()
if(HCG_HAVE_MPI AND MPIEXEC_EXECUTABLE)
  set(HCG_MPIRUN ${MPIEXEC_EXECUTABLE} --oversubscribe)
  execute_process(COMMAND id -u OUTPUT_VARIABLE HCG_UID OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(HCG_UID STREQUAL "0")
    list(APPEND HCG_MPIRUN --allow-run-as-root)
  endif()
  foreach(t test_train_dist test_workloads_dist)
    foreach(np 2 3)
      add_test(NAME ${t}_np${np} COMMAND ${HCG_MPIRUN} ${MPIEXEC_NUMPROC_FLAG} ${np} $<TARGET_FILE:${t}>)
      set_tests_properties(${t}_np${np} PROPERTIES
        ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_BIN=$<TARGET_FILE:hcg-cli>;HCG_CPU_THREADS=1;OPENBLAS_NUM_THREADS=1;HCG_DIST_TIMEOUT=120;${HCG_MPI_TEST_ENV}"
        TIMEOUT 600 LABELS mpi PROCESSORS ${np})
    endforeach()
  endforeach()
  # the CLI tests start mpirun themselves
  set(HCG_MPIRUN_CMD "${HCG_MPIRUN}")
  string(REPLACE ";" " " HCG_MPIRUN_CMD "${HCG_MPIRUN_CMD}")
  if(TARGET test_dist_cli)
    set_property(TEST test_dist_cli APPEND PROPERTY ENVIRONMENT "HCG_MPIRUN=${HCG_MPIRUN_CMD}")
  endif()
endif()
