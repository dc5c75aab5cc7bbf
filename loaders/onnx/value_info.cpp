#include "loaders/onnx/value_info.h"

#include "loaders/onnx/tensor_proto.h"

namespace quench::loaders::onnx {
namespace {

using wire::Field;
using wire::WireType;

// TensorShapeProto.Dimension: dim_value = 1, dim_param = 2 (a oneof: the last one read wins).
Status parse_dim(ParseContext& ctx, const Field& f, const Path& p, int64_t* value, std::string* param) {
  wire::Reader r(ctx.origin, f);
  *value = -1;
  param->clear();
  while (!r.done()) {
    Field d;
    QUENCH_TRY(ctx.wrap(p, r.next(&d)));
    if (d.number == 1) {
      QUENCH_TRY(expect_type(ctx, p, d, WireType::kVarint, "dim_value"));
      const auto v = static_cast<int64_t>(d.value);
      // Some exporters (paddle2onnx) write -1 for a dynamic dim; ONNX Runtime reads it as
      // unknown, and so does quench. Other negative values are corrupt.
      if (v < -1) return ctx.fail(p, StatusCode::kParseError, "dim_value is negative (", v, ")");
      *value = v;
      param->clear();
    } else if (d.number == 2) {
      QUENCH_TRY(expect_type(ctx, p, d, WireType::kLen, "dim_param"));
      *value = -1;
      *param = as_string(d);
    } else if (d.number == 3) {
      QUENCH_TRY(expect_type(ctx, p, d, WireType::kLen, "denotation"));
    }
  }
  return {};
}

// TypeProto.Tensor: elem_type = 1, shape = 2 (TensorShapeProto: dim = 1).
Status parse_tensor_type(ParseContext& ctx, const Field& f, const Path& p, ValueInfo* out) {
  wire::Reader r(ctx.origin, f);
  while (!r.done()) {
    Field t;
    QUENCH_TRY(ctx.wrap(p, r.next(&t)));
    if (t.number == 1) {
      QUENCH_TRY(expect_type(ctx, p, t, WireType::kVarint, "elem_type"));
      const auto et = static_cast<int32_t>(static_cast<uint32_t>(t.value));
      DType d = DType::kUndefined;
      if (et != 0 && !dtype_from_onnx(et, &d))
        return ctx.fail(p, StatusCode::kUnsupported, "element type ", et, " (", onnx_type_name(et), ") is not supported");
      out->dtype = d;
    } else if (t.number == 2) {
      QUENCH_TRY(expect_type(ctx, p, t, WireType::kLen, "shape"));
      out->has_shape = true;
      out->shape.clear();
      out->dim_params.clear();
      wire::Reader sr(ctx.origin, t);
      while (!sr.done()) {
        Field d;
        QUENCH_TRY(ctx.wrap(p, sr.next(&d)));
        if (d.number != 1) continue;
        const Path dp = p.child("dim", static_cast<int64_t>(out->shape.size()));
        QUENCH_TRY(expect_type(ctx, dp, d, WireType::kLen, "dim"));
        int64_t v = -1;
        std::string param;
        QUENCH_TRY(parse_dim(ctx, d, dp, &v, &param));
        out->shape.push_back(v);
        out->dim_params.push_back(std::move(param));
      }
    }
  }
  return {};
}

}  // namespace

Status parse_value_info(ParseContext& ctx, const Field& f, const Path& path, ValueInfo* out) {
  *out = ValueInfo{};
  QUENCH_TRY(peek_string(ctx, path, f.data, f.size, 1, &out->name));
  Path p = path;
  p.label = out->name;
  wire::Reader r(ctx.origin, f);
  while (!r.done()) {
    Field v;
    QUENCH_TRY(ctx.wrap(p, r.next(&v)));
    if (v.number == 1) {
      QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "name"));
    } else if (v.number == 3) {
      QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "doc_string"));
    } else if (v.number == 2) {
      QUENCH_TRY(expect_type(ctx, p, v, WireType::kLen, "type"));
      out->has_type = true;
      // TypeProto: a oneof of tensor_type = 1, sequence_type = 4, map_type = 5,
      // sparse_tensor_type = 8, optional_type = 9; denotation = 6. Only tensors are read:
      // the others are not descended into, so their recursion cannot nest.
      wire::Reader tr(ctx.origin, v);
      while (!tr.done()) {
        Field t;
        QUENCH_TRY(ctx.wrap(p, tr.next(&t)));
        const char* other = nullptr;
        switch (t.number) {
          case 1:
            QUENCH_TRY(expect_type(ctx, p, t, WireType::kLen, "tensor_type"));
            out->non_tensor_kind = nullptr;
            QUENCH_TRY(parse_tensor_type(ctx, t, p.child("type.tensor_type"), out));
            break;
          case 4: other = "sequence"; break;
          case 5: other = "map"; break;
          case 8: other = "sparse tensor"; break;
          case 9: other = "optional"; break;
          case 6: QUENCH_TRY(expect_type(ctx, p, t, WireType::kLen, "denotation")); break;
          default: break;
        }
        if (other) {
          QUENCH_TRY(expect_type(ctx, p, t, WireType::kLen, other));
          out->non_tensor_kind = other;
        }
      }
    }
  }
  return {};
}

}  // namespace quench::loaders::onnx
