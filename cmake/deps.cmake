# deps.cmake — the Debian-packaged libraries zsq links (see tools/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET libprotobuf-c)

foreach(lib XNNPACK pthreadpool cpuinfo)
  find_library(ZSQ_${lib}_LIB ${lib} REQUIRED)
endforeach()
find_path(ZSQ_XNNPACK_INCLUDE xnnpack.h REQUIRED)

add_library(zsq_deps INTERFACE)
add_library(zsq::deps ALIAS zsq_deps)
target_include_directories(zsq_deps INTERFACE ${ZSQ_XNNPACK_INCLUDE})
target_link_libraries(zsq_deps INTERFACE
  ${ZSQ_XNNPACK_LIB} ${ZSQ_pthreadpool_LIB} ${ZSQ_cpuinfo_LIB}
  PkgConfig::PROTOBUF_C ZLIB::ZLIB Threads::Threads m)
