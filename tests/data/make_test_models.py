#!/usr/bin/env python3
"""Writes the tiny ONNX models the CLI test uses (checked in next to this script; run it again
only to change them): python3 tests/data/make_test_models.py tests/data

tiny_cnn.onnx      x[N,3,8,8] -> Conv 3x3 pad 1 (+bias) -> Relu -> GlobalAveragePool -> Flatten
                   -> Gemm (transB, +bias) -> "logits/out:0"[N,5]; weights seeded
tiny_dynamic.onnx  x[N,4,L] -> Abs -> 'abs "q"\\<tab>é' (a name that needs JSON escaping)
                   idx int64[N,3] -> Gather from a [10,2] table -> "gathered"[N,3,2]
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_cnn():
    rng = np.random.default_rng(0)

    def init(name, shape):
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.3).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("GlobalAveragePool", ["r1"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["logits/out:0"], name="fc", transB=1),
    ]
    g = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("logits/out:0", TensorProto.FLOAT, ["N", 5])],
        [init("w1", (4, 3, 3, 3)), init("b1", (4,)), init("w2", (5, 4)), init("b2", (5,))])
    return g


def tiny_dynamic():
    table = numpy_helper.from_array(np.arange(20, dtype=np.float32).reshape(10, 2), "table")
    name = 'abs "q"\\\t\u00e9'
    nodes = [
        helper.make_node("Abs", ["x"], [name], name="abs"),
        helper.make_node("Gather", ["table", "idx"], ["gathered"], name="gather", axis=0),
    ]
    g = helper.make_graph(
        nodes, "tiny_dynamic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, "L"]),
         helper.make_tensor_value_info("idx", TensorProto.INT64, ["N", 3])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 4, "L"]),
         helper.make_tensor_value_info("gathered", TensorProto.FLOAT, ["N", 3, 2])],
        [table])
    return g


def save(graph, path):
    m = helper.make_model(graph, producer_name="quench-test", opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    save(tiny_cnn(), f"{out}/tiny_cnn.onnx")
    save(tiny_dynamic(), f"{out}/tiny_dynamic.onnx")
