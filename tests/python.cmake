# python.cmake — the Python package's tests (python/tests) against this build's libhcg, when the
# system's Python has NumPy (Debian's python3-numpy). scripts/test_install.sh runs them again in a
# fresh venv against the installed package. Not under the sanitizers: a sanitized libhcg cannot be
# loaded into an uninstrumented Python.
execute_process(COMMAND /usr/bin/python3 -c "import numpy" RESULT_VARIABLE HCG_PY_NUMPY OUTPUT_QUIET ERROR_QUIET)
if(HCG_PY_NUMPY EQUAL 0 AND NOT HCG_SANITIZE AND NOT HCG_TSAN)
  add_test(NAME python_package COMMAND /usr/bin/python3 -m unittest discover -s ${CMAKE_SOURCE_DIR}/python/tests)
  set_tests_properties(python_package PROPERTIES LABELS "python;no_sanitizer" TIMEOUT 300
    ENVIRONMENT "HCG_SOURCE_DIR=${CMAKE_SOURCE_DIR};HCG_LIBRARY=$<TARGET_FILE:hcg_shared>;PYTHONPATH=${CMAKE_SOURCE_DIR}/python")
endif()
