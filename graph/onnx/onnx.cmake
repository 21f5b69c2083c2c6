# onnx.cmake — the ONNX reader's build: generates the protobuf-c decoder from Debian's onnx.proto
# at build time (protoc-c), adds the reader's sources to the library and links protobuf-c.
# Included by the top-level CMakeLists.txt when HCG_ONNX is ON. With HCG_FUZZ it also builds the
# libFuzzer target fuzz/fuzz_onnx.c (clang only).

find_program(HCG_PROTOC_C protoc-c)
pkg_check_modules(PROTOBUF_C IMPORTED_TARGET libprotobuf-c)
find_file(HCG_ONNX_PROTO onnx.proto PATHS /usr/include/onnx /usr/local/include/onnx NO_DEFAULT_PATH
  DOC "onnx.proto to generate the ONNX decoder from (Debian: libonnx-dev)")
if(NOT HCG_PROTOC_C OR NOT PROTOBUF_C_FOUND OR NOT HCG_ONNX_PROTO)
  message(FATAL_ERROR "HCG_ONNX needs protoc-c, libprotobuf-c and onnx.proto "
    "(Debian: apt-get install protobuf-c-compiler libprotobuf-c-dev libonnx-dev), "
    "or configure with -DHCG_ONNX=OFF")
endif()

# onnx.proto declares `package onnx;`, so protoc-c names the C types Onnx__ModelProto,
# Onnx__TensorProto, ... and the functions onnx__model_proto__unpack, ...
get_filename_component(HCG_ONNX_PROTO_DIR ${HCG_ONNX_PROTO} DIRECTORY)
set(HCG_ONNX_GEN_DIR ${CMAKE_BINARY_DIR}/generated)
set(HCG_ONNX_GEN_C ${HCG_ONNX_GEN_DIR}/onnx.pb-c.c)
set(HCG_ONNX_GEN_H ${HCG_ONNX_GEN_DIR}/onnx.pb-c.h)
add_custom_command(
  OUTPUT ${HCG_ONNX_GEN_C} ${HCG_ONNX_GEN_H}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${HCG_ONNX_GEN_DIR}
  COMMAND ${HCG_PROTOC_C} --c_out=${HCG_ONNX_GEN_DIR} -I${HCG_ONNX_PROTO_DIR} ${HCG_ONNX_PROTO}
  DEPENDS ${HCG_ONNX_PROTO}
  COMMENT "Generating the ONNX protobuf-c decoder from ${HCG_ONNX_PROTO}"
  VERBATIM)

file(GLOB HCG_ONNX_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/graph/onnx/*.c)
list(APPEND HCG_EXTRA_SOURCES ${HCG_ONNX_GEN_C} ${HCG_ONNX_SOURCES})
list(APPEND HCG_LIBS PkgConfig::PROTOBUF_C)
list(APPEND HCG_DEFS HCG_HAVE_ONNX=1)

if(HCG_FUZZ)
  include(${CMAKE_SOURCE_DIR}/fuzz/fuzz.cmake)
endif()
