# install.cmake — what `cmake --install BUILD [--prefix DIR]` puts under the prefix, and the Debian
# package `cpack -G DEB` makes from it:
#   lib/libhcg.so.MAJOR.MINOR.PATCH (SONAME libhcg.so.MAJOR.MINOR) and libhcg.a
#   include/hcg/hcg.h                      the public API, the only header
#   lib/cmake/hcg/hcgConfig.cmake ...      find_package(hcg): hcg::hcg (shared), hcg::hcg_static
#   lib/pkgconfig/hcg.pc                   pkg-config --cflags --libs hcg
#   bin/hcg, share/man/man1/hcg.1          the command and its manual (made from its --help texts)
# Every installed file finds the others relative to itself, so the tree can move (a temporary
# prefix in CI, DESTDIR).
include(CMakePackageConfigHelpers)

install(TARGETS hcg_shared hcg EXPORT hcgTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS hcg-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/hcg/hcg.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hcg)

# The CMake package. The static library's dependencies are imported targets found again by
# hcgConfig.cmake (find_dependency), as this build found them.
set(HCG_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/hcg)
install(EXPORT hcgTargets NAMESPACE hcg:: DESTINATION ${HCG_CMAKE_DIR})
set(HCG_CONFIG_OPENMP OFF)
if(TARGET OpenMP::OpenMP_C)
  set(HCG_CONFIG_OPENMP ON)
endif()
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/hcgConfig.cmake.in ${CMAKE_BINARY_DIR}/hcgConfig.cmake
  INSTALL_DESTINATION ${HCG_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/hcgConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/hcgConfig.cmake ${CMAKE_BINARY_DIR}/hcgConfigVersion.cmake
  DESTINATION ${HCG_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own folder (${pcfiledir}).
file(RELATIVE_PATH HCG_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" HCG_PC_TO_PREFIX "${HCG_PC_TO_PREFIX}")
set(HCG_PC_REQUIRES_PRIVATE "libcjson")
set(HCG_PC_LIBS_PRIVATE "")
foreach(module libprotobuf-c OpenCL)
  pkg_check_modules(HCG_PC_PROBE_${module} QUIET ${module})
endforeach()
if(HCG_ONNX AND HCG_PC_PROBE_libprotobuf-c_FOUND)
  string(APPEND HCG_PC_REQUIRES_PRIVATE " libprotobuf-c")
endif()
if(HCG_OPENCL)
  if(HCG_PC_PROBE_OpenCL_FOUND)
    string(APPEND HCG_PC_REQUIRES_PRIVATE " OpenCL")
  else()
    string(APPEND HCG_PC_LIBS_PRIVATE " -lOpenCL")
  endif()
  string(APPEND HCG_PC_LIBS_PRIVATE " ${CLBLAST_LIBRARY}")
endif()
foreach(lib ${BLAS_LIBRARIES} ${DNNL_LIBRARY} ${MPI_C_LIBRARIES})
  if(lib)
    string(APPEND HCG_PC_LIBS_PRIVATE " ${lib}")
  endif()
endforeach()
if(HCG_CONFIG_OPENMP)
  string(APPEND HCG_PC_LIBS_PRIVATE " ${OpenMP_C_FLAGS}")
endif()
string(APPEND HCG_PC_LIBS_PRIVATE " -lm -pthread")
configure_file(${CMAKE_SOURCE_DIR}/cmake/hcg.pc.in ${CMAKE_BINARY_DIR}/hcg.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/hcg.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The manual page, made from the command's own --help texts (one source for both).
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/hcg.1
  COMMAND ${CMAKE_COMMAND} -DHCG=$<TARGET_FILE:hcg-cli> -DOUT=${CMAKE_BINARY_DIR}/hcg.1
          -DVERSION=${PROJECT_VERSION} -P ${CMAKE_SOURCE_DIR}/cmake/manpage.cmake
  DEPENDS hcg-cli ${CMAKE_SOURCE_DIR}/cmake/manpage.cmake
  COMMENT "Writing the manual page hcg.1 from hcg --help"
  VERBATIM)
add_custom_target(hcg-man ALL DEPENDS ${CMAKE_BINARY_DIR}/hcg.1)
install(FILES ${CMAKE_BINARY_DIR}/hcg.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# A Debian package of the same tree: cpack -G DEB (in the build folder).
set(CPACK_PACKAGE_NAME hcg)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "hcg maintainers <hcg@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "heterogeneous compute graphs: run computation graphs across the CPU and OpenCL devices")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON) # the libraries hcg links, found by dpkg-shlibdeps
set(CPACK_GENERATOR DEB)
include(CPack)
