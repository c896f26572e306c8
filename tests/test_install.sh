#!/usr/bin/env bash
# test_install.sh — `cmake --install` into a temporary prefix, then a consumer builds against it
# through find_package(zsq) (static and shared) and through pkg-config.
# usage: test_install.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
mkdir -p "$tmp/app"
cat >"$tmp/app/main.c" <<'C'
#include <stdio.h>
#include <zsq.h>
int main(void) {
  zsq_model *m;
  if (zsq_model_create(&m) != ZSQ_OK) return 1;
  int bad = zsq_model_load_onnx(m, "/nonexistent.onnx") != ZSQ_ERR_IO;
  zsq_model_destroy(m);
  printf("zsq %s\n", zsq_version());
  return bad;
}
C
cat >"$tmp/app/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.20)
project(app C)
find_package(zsq REQUIRED)
add_executable(app_static main.c)
target_link_libraries(app_static PRIVATE zsq::zsq_static)
add_executable(app_shared main.c)
target_link_libraries(app_shared PRIVATE zsq::zsq_shared)
C
cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/app/build" >/dev/null
"$tmp/app/build/app_static"
"$tmp/app/build/app_shared"
pc=$(find "$tmp/prefix" -name zsq.pc)
export PKG_CONFIG_PATH=$(dirname "$pc")
cc "$tmp/app/main.c" $(pkg-config --cflags zsq) $(pkg-config --libs --static zsq) \
  -Wl,-rpath,"$(pkg-config --variable=libdir zsq)" -o "$tmp/app/app_pc"
"$tmp/app/app_pc"
echo "install: find_package (static, shared) and pkg-config consumers built and ran"
