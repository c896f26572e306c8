// gemm-shapes.h — reads the M N K rows of a bench/shapes/*.txt file.
#ifndef ZSQ_BENCH_GEMM_SHAPES_H
#define ZSQ_BENCH_GEMM_SHAPES_H

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace zsqbench {

struct Shape {
  int64_t m, n, k;
  std::string name;  // the rest of the line: the layer it comes from
};

// Every "M N K name" row (# starts a comment) whose name contains `only` (all rows when empty).
inline std::vector<Shape> LoadShapes(const std::string &path, const std::string &only = "") {
  std::vector<Shape> shapes;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Shape s;
    if (!(ls >> s.m >> s.n >> s.k)) continue;
    std::getline(ls >> std::ws, s.name);
    if (s.name.find(only) != std::string::npos) shapes.push_back(s);
  }
  return shapes;
}

}  // namespace zsqbench

#endif
