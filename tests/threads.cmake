# threads.cmake — the tests whose work runs on several threads (executor workers, sessions on
# threads of their own, the CPU thread pool, first use of lazily set-up state), labelled "threads"
# for the ThreadSanitizer build: cmake -DHCG_TSAN=ON ... && ctest -L threads (scripts/test.sh).
foreach(t test_threads test_exec_multi test_faults test_ops_cpu_threaded test_exec_multi_two_opencl
          test_faults_two_opencl test_opencl_ops_two_devices)
  if(TEST ${t})
    set_property(TEST ${t} APPEND PROPERTY LABELS threads)
  endif()
endforeach()
