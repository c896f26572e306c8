# onnx_proto.cmake — generates the protobuf-c reader from the system's onnx.proto at build time.
find_program(ZSQ_PROTOC_C protoc-c REQUIRED)
set(ZSQ_ONNX_PROTO "/usr/lib/python3/dist-packages/onnx/onnx.proto" CACHE FILEPATH
    "onnx.proto from python3-onnx (or libonnx-dev)")
if(NOT EXISTS "${ZSQ_ONNX_PROTO}")
  message(FATAL_ERROR "onnx.proto not found at ${ZSQ_ONNX_PROTO}: install python3-onnx "
                      "(tools/install-deps.sh) or set -DZSQ_ONNX_PROTO=/path/to/onnx.proto")
endif()
get_filename_component(_proto_dir "${ZSQ_ONNX_PROTO}" DIRECTORY)
set(ZSQ_ONNX_PB_DIR "${CMAKE_CURRENT_BINARY_DIR}/gen")
set(ZSQ_ONNX_PB_SOURCES "${ZSQ_ONNX_PB_DIR}/onnx.pb-c.c" "${ZSQ_ONNX_PB_DIR}/onnx.pb-c.h")
add_custom_command(
  OUTPUT "${ZSQ_ONNX_PB_DIR}/onnx.pb-c.c" "${ZSQ_ONNX_PB_DIR}/onnx.pb-c.h"
  COMMAND ${CMAKE_COMMAND} -E make_directory "${ZSQ_ONNX_PB_DIR}"
  COMMAND ${ZSQ_PROTOC_C} "--proto_path=${_proto_dir}" "--c_out=${ZSQ_ONNX_PB_DIR}" "${ZSQ_ONNX_PROTO}"
  DEPENDS "${ZSQ_ONNX_PROTO}"
  COMMENT "protoc-c: generating the ONNX reader from ${ZSQ_ONNX_PROTO}")
set_source_files_properties(${ZSQ_ONNX_PB_SOURCES} PROPERTIES COMPILE_OPTIONS "-w")
