# toolchain-aarch64.cmake — cross-compiles for aarch64 Linux with Debian's gcc-aarch64-linux-gnu;
# CTest runs the test programs under qemu-aarch64 (user mode, default "max" CPU: NEON + dotprod).
# Usage: cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
# builds the kernels and their tests only (ZSQ_KERNELS_ONLY). With
# -DZSQ_AARCH64_SYSROOT=DIR (the arm64 libraries unpacked by tools/aarch64-sysroot.sh DIR) it
# builds the whole program, and CTest runs the pipeline on it under qemu (tests/test_target.sh).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;/usr/aarch64-linux-gnu")
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)

list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ZSQ_AARCH64_SYSROOT)
if(ZSQ_AARCH64_SYSROOT)
  get_filename_component(ZSQ_AARCH64_SYSROOT "${ZSQ_AARCH64_SYSROOT}" ABSOLUTE)
  set(_zsq_libs
      "${ZSQ_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu:${ZSQ_AARCH64_SYSROOT}/lib/aarch64-linux-gnu")
  list(APPEND CMAKE_FIND_ROOT_PATH "${ZSQ_AARCH64_SYSROOT}")
  list(APPEND CMAKE_CROSSCOMPILING_EMULATOR "-E" "LD_LIBRARY_PATH=${_zsq_libs}")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_zsq_libs}")
  set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_zsq_libs}")
  set(ENV{PKG_CONFIG_LIBDIR} "${ZSQ_AARCH64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${ZSQ_AARCH64_SYSROOT}")
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
