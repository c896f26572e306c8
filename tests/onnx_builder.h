// onnx_builder.h — writes small ONNX models byte by byte (a minimal protobuf encoder), so tests
// can build valid graphs and deliberately broken ones without any ONNX tooling.
#ifndef ZSQ_TESTS_ONNX_BUILDER_H
#define ZSQ_TESTS_ONNX_BUILDER_H

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace zsqtest {

// Protobuf wire encoding of one message.
class Pb {
 public:
  Pb &varint(int field, uint64_t v) {
    tag(field, 0);
    put_varint(v);
    return *this;
  }
  Pb &bytes(int field, const std::string &b) {
    tag(field, 2);
    put_varint(b.size());
    s_ += b;
    return *this;
  }
  Pb &msg(int field, const Pb &m) { return bytes(field, m.s_); }
  // Tag and length of a length-delimited field whose payload the caller writes itself.
  Pb &header(int field, uint64_t len) {
    tag(field, 2);
    put_varint(len);
    return *this;
  }
  Pb &f32(int field, float v) {
    tag(field, 5);
    char b[4];
    std::memcpy(b, &v, 4);
    s_.append(b, 4);
    return *this;
  }
  const std::string &str() const { return s_; }

 private:
  void tag(int field, int wt) {
    put_varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wt));
  }
  void put_varint(uint64_t v) {
    while (v >= 0x80) {
      s_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    s_.push_back(static_cast<char>(v));
  }
  std::string s_;
};

enum { kFloat = 1, kInt64 = 7, kDouble = 11 };

inline Pb tensor(const std::string &name, const std::vector<int64_t> &dims,
                 const std::vector<float> &data) {
  Pb t;
  for (int64_t d : dims) t.varint(1, static_cast<uint64_t>(d));
  t.varint(2, kFloat).bytes(8, name);
  t.bytes(9, std::string(reinterpret_cast<const char *>(data.data()), data.size() * sizeof(float)));
  return t;
}

inline Pb tensor_i64(const std::string &name, const std::vector<int64_t> &dims,
                     const std::vector<int64_t> &data) {
  Pb t;
  for (int64_t d : dims) t.varint(1, static_cast<uint64_t>(d));
  t.varint(2, kInt64).bytes(8, name);
  t.bytes(9,
          std::string(reinterpret_cast<const char *>(data.data()), data.size() * sizeof(int64_t)));
  return t;
}

class Node {
 public:
  Node(const std::string &op, const std::vector<std::string> &in,
       const std::vector<std::string> &out, const std::string &name = "") {
    for (const auto &i : in) pb_.bytes(1, i);
    for (const auto &o : out) pb_.bytes(2, o);
    if (!name.empty()) pb_.bytes(3, name);
    pb_.bytes(4, op);
  }
  Node &attr_i(const std::string &n, int64_t v) {
    pb_.msg(5, Pb().bytes(1, n).varint(3, static_cast<uint64_t>(v)).varint(20, 2));
    return *this;
  }
  Node &attr_f(const std::string &n, float v) {
    pb_.msg(5, Pb().bytes(1, n).f32(2, v).varint(20, 1));
    return *this;
  }
  Node &attr_s(const std::string &n, const std::string &v) {
    pb_.msg(5, Pb().bytes(1, n).bytes(4, v).varint(20, 3));
    return *this;
  }
  Node &attr_ints(const std::string &n, const std::vector<int64_t> &v) {
    Pb a;
    a.bytes(1, n);
    for (int64_t x : v) a.varint(8, static_cast<uint64_t>(x));
    a.varint(20, 7);
    pb_.msg(5, a);
    return *this;
  }
  Node &attr_t(const std::string &n, const Pb &t) {
    pb_.msg(5, Pb().bytes(1, n).msg(5, t).varint(20, 4));
    return *this;
  }
  const Pb &pb() const { return pb_; }

 private:
  Pb pb_;
};

class Model {
 public:
  explicit Model(int opset = 13) : opset_(opset) {}
  Model &input(const std::string &name, const std::vector<int64_t> &dims, int elem = kFloat) {
    Pb shape;
    for (int64_t d : dims) {
      shape.msg(1, d < 0 ? Pb().bytes(2, "N") : Pb().varint(1, static_cast<uint64_t>(d)));
    }
    Pb tt;
    tt.varint(1, static_cast<uint64_t>(elem)).msg(2, shape);
    graph_.msg(11, Pb().bytes(1, name).msg(2, Pb().msg(1, tt)));
    return *this;
  }
  Model &output(const std::string &name) {
    graph_.msg(12, Pb().bytes(1, name));
    return *this;
  }
  Model &init(const Pb &t) {
    graph_.msg(5, t);
    return *this;
  }
  Model &node(const Node &n) {
    graph_.msg(1, n.pb());
    return *this;
  }
  Model &meta(const std::string &k, const std::string &v) {
    meta_.push_back(Pb().bytes(1, k).bytes(2, v));
    return *this;
  }
  std::string bytes() const {
    Pb m;
    m.varint(1, 8);
    m.msg(8, Pb().bytes(1, "").varint(2, static_cast<uint64_t>(opset_)));
    m.msg(7, graph_);
    for (const auto &e : meta_) m.msg(14, e);
    return m.str();
  }

 private:
  int opset_;
  Pb graph_;
  std::vector<Pb> meta_;
};

}  // namespace zsqtest

#endif
