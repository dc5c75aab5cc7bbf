#include "engine/cuda/cuda_executor.h"

#include <cstring>

#include "kernels/convert/layout_convert.cuh"

namespace quench::cuda {
namespace {

namespace kt = kernels::transpose;

// NHWC [N, H, W, C] -> ONNX [N, C, H, W] of a logical [N, C, H, W] shape, or back.
kt::TransposeArgs<__half> layout_transpose(const Shape& s, bool to_logical, const void* x, void* y) {
  kt::TransposeArgs<__half> t;
  t.rank = 4;
  const int64_t nhwc[4] = {s[0], s[2], s[3], s[1]};
  static constexpr int kToLogical[4] = {0, 3, 1, 2}, kToNhwc[4] = {0, 2, 3, 1};
  for (int i = 0; i < 4; ++i) {
    t.dims[i] = to_logical ? nhwc[i] : s[i];
    t.perm[i] = to_logical ? kToLogical[i] : kToNhwc[i];
  }
  t.x = static_cast<const __half*>(x);
  t.y = static_cast<__half*>(y);
  return t;
}

// The boundary conversion's arguments: NCHW <-> NHWC for a 4-D NHWC value, else a flat cast
// (viewed as [numel, 1, 1, 1], whose two orders coincide).
kernels::LayoutConvertArgs boundary_args(const Shape& s, GpuLayout layout) {
  kernels::LayoutConvertArgs a;
  if (layout == GpuLayout::kNHWC) {
    a.n = s[0];
    a.c = a.c_padded = s[1];
    a.h = s[2];
    a.w = s[3];
  } else {
    a.n = shape_numel(s);
    a.c = a.c_padded = a.h = a.w = 1;
  }
  return a;
}

int64_t aligned64(int64_t b) { return (b + 63) / 64 * 64; }

// Adds "<kind> '<name>'" to a failure; formats nothing on success (the run path allocates nothing).
Status named(Status st, const char* kind, const std::string& name) {
  if (st.ok()) return st;
  return st.with_context(std::string(kind) + " '" + name + "'");
}

}  // namespace

Result<std::unique_ptr<CudaExecutor>> CudaExecutor::create(const CudaEngine& e, const CudaBatch& b,
                                                           const DevicePlan& m, std::byte* arena, void* persistent,
                                                           std::byte* pinned, std::span<const cudaStream_t> aux) {
  auto ex = std::unique_ptr<CudaExecutor>(new CudaExecutor());
  ex->batch_ = &b;
  const ExecutionPlan& p = *b.plan;
  const StreamSchedule& sched = b.schedule;
  const bool streams = sched.streams > 1 && aux.size() >= static_cast<size_t>(sched.streams - 1);
  if (streams) {
    ex->aux_.assign(aux.begin(), aux.begin() + (sched.streams - 1));
    QUENCH_ASSIGN(ex->forked_, Event::create());
    ex->done_.resize(p.steps.size());
    for (size_t i = 0; i < p.steps.size(); ++i) {
      if (!sched.recorded[i]) continue;
      QUENCH_ASSIGN(ex->done_[i], Event::create());
    }
  }
  ex->values_.assign(p.values.size(), nullptr);
  for (size_t v = 0; v < p.values.size(); ++v)
    if (m.value_offsets[v] >= 0) ex->values_[v] = arena + m.value_offsets[v];

  for (size_t i = 0; i < p.steps.size(); ++i) {
    const PlannedStep& ps = p.steps[i];
    const ir::Node& n = *ps.node;
    const StepLayout& sl = b.layouts.steps[i];
    const ops::GpuPrepared& prep = b.prepared[i];
    std::byte* scratch = m.scratch_offsets[i] >= 0 ? arena + m.scratch_offsets[i] : nullptr;
    Step s;
    s.node = &n;
    auto operands = [&](const std::vector<int>& idx, const std::vector<GpuLayout>& layouts,
                        const std::vector<Conversion>& conv, bool inputs, std::vector<ops::GpuTensor>& out) {
      for (size_t k = 0; k < idx.size(); ++k) {
        ops::GpuTensor t;
        const int v = idx[k];
        if (v >= 0) {
          t.dtype = b.layouts.values[v].dtype;
          t.shape = p.values[v].shape;
          t.layout = layouts[k];
          t.constant = p.values[v].constant;
          t.data = t.constant ? e.weights.data(b.constant_inputs[i][k]) : ex->values_[v];
          if (conv[k].needed) {
            void* logical = scratch + conv[k].scratch_offset;
            (inputs ? s.before : s.after).push_back(layout_transpose(t.shape, inputs, inputs ? t.data : logical,
                                                                     inputs ? logical : t.data));
            t.data = logical;
          }
        }
        out.push_back(std::move(t));
      }
    };
    std::vector<ops::GpuTensor> ins, outs;
    operands(ps.inputs, sl.inputs, sl.convert_in, true, ins);
    operands(ps.outputs, sl.outputs, sl.convert_out, false, outs);
    for (const auto& t : s.before) QUENCH_TRY(kt::can_implement(t).with_context(n.where()));
    for (const auto& t : s.after) QUENCH_TRY(kt::can_implement(t).with_context(n.where()));
    std::vector<void*> weights;
    for (int w : prep.weights) weights.push_back(e.weights.data(w));
    void* workspace = m.op_workspace_offsets[i] >= 0 ? arena + m.op_workspace_offsets[i] : nullptr;
    const ops::GpuOp* op = ops::find_gpu_op(n.schema);
    if (!op) return error(StatusCode::kInternal, "no CUDA kernel for ", n.where());
    // Steps that may overlap must not share split-K counters: one region per stream.
    void* split_k = persistent;
    if (streams && persistent) split_k = static_cast<std::byte*>(persistent) + sched.stream_of[i] * e.persistent_bytes;
    QUENCH_ASSIGN(s.launch, op->bind({n, ins, outs, weights, workspace, split_k, e.persistent_bytes}));
    ex->steps_.push_back(std::move(s));
  }

  int64_t host = 0;
  auto boundary = [&](int v, int64_t staging) {
    Boundary bd;
    bd.value = v;
    bd.host = pinned + host;
    bd.bytes = static_cast<size_t>(p.values[v].bytes);
    host += aligned64(p.values[v].bytes);
    bd.device = ex->values_[v];
    bd.staging = staging >= 0 ? arena + staging : nullptr;
    bd.convert = boundary_args(p.values[v].shape, b.layouts.values[v].layout);
    return bd;
  };
  for (size_t k = 0; k < p.inputs.size(); ++k) ex->inputs_.push_back(boundary(p.inputs[k], m.input_staging[k]));
  for (size_t k = 0; k < p.outputs.size(); ++k) ex->outputs_.push_back(boundary(p.outputs[k], m.output_staging[k]));
  if (host > b.pinned_bytes) return error(StatusCode::kInternal, "the pinned staging is smaller than the batch's I/O");
  return ex;
}

const void* CudaExecutor::value_data(int v) const { return values_[static_cast<size_t>(v)]; }

Status CudaExecutor::stage_inputs(const TensorMap& inputs) {
  const ExecutionPlan& p = *batch_->plan;
  for (const Boundary& bd : inputs_) {
    const PlannedValue& pv = p.values[bd.value];
    auto it = inputs.find(pv.name);
    if (it == inputs.end()) return error(StatusCode::kInvalidArgument, "input '", pv.name, "' was not given");
    const Tensor& t = it->second;
    if (t.dtype() != pv.dtype || t.shape() != pv.shape)
      return error(StatusCode::kInvalidArgument, "input '", pv.name, "' is ", dtype_name(t.dtype()), shape_str(t.shape()),
                   " but the engine expects ", dtype_name(pv.dtype), shape_str(pv.shape));
  }
  if (inputs.size() != inputs_.size())
    for (const auto& [name, t] : inputs) {
      const int v = p.find(name);
      if (v < 0 || !p.values[v].graph_input)
        return error(StatusCode::kInvalidArgument, "'", name, "' is not an input of this model");
    }
  // Only once every input is known good, so that a refused run leaves the staging as it was.
  for (const Boundary& bd : inputs_)
    if (bd.bytes) std::memcpy(bd.host, inputs.find(p.values[bd.value].name)->second.data(), bd.bytes);
  return {};
}

Status CudaExecutor::enqueue_inputs(cudaStream_t stream) const {
  const ExecutionPlan& p = *batch_->plan;
  for (const Boundary& bd : inputs_) {
    if (bd.bytes == 0) continue;
    const std::string& name = p.values[bd.value].name;
    void* dst = bd.staging ? bd.staging : bd.device;
    QUENCH_TRY(named(check(cudaMemcpyAsync(dst, bd.host, bd.bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync"),
                     "input", name));
    if (bd.staging)
      QUENCH_TRY(named(check(kernels::nchw_to_nhwc<__half>(static_cast<const float*>(bd.staging),
                                                           static_cast<__half*>(bd.device), bd.convert, stream),
                             "nchw_to_nhwc"),
                       "input", name));
  }
  return {};
}

Status CudaExecutor::run_step(const Step& s, cudaStream_t stream) const {
  for (const auto& t : s.before) QUENCH_TRY(kt::run(t, nullptr, stream));
  if (s.launch) QUENCH_TRY(s.launch(stream));
  for (const auto& t : s.after) QUENCH_TRY(kt::run(t, nullptr, stream));
  return {};
}

Status CudaExecutor::enqueue_step(size_t i, cudaStream_t stream) const {
  if (i >= steps_.size()) return error(StatusCode::kOutOfRange, "step ", i, " of ", steps_.size());
  const Step& s = steps_[i];
  Status st = run_step(s, stream);
  if (!st.ok()) return st.with_context(s.node->where());
  return st;
}

Status CudaExecutor::enqueue_outputs(cudaStream_t stream) const {
  const ExecutionPlan& p = *batch_->plan;
  for (const Boundary& bd : outputs_) {
    if (bd.bytes == 0) continue;
    const std::string& name = p.values[bd.value].name;
    if (bd.staging)
      QUENCH_TRY(named(check(kernels::nhwc_to_nchw<__half>(static_cast<const __half*>(bd.device),
                                                           static_cast<float*>(bd.staging), bd.convert, stream),
                             "nhwc_to_nchw"),
                       "output", name));
    const void* src = bd.staging ? bd.staging : bd.device;
    QUENCH_TRY(named(check(cudaMemcpyAsync(bd.host, src, bd.bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync"),
                     "output", name));
  }
  return {};
}

Status CudaExecutor::enqueue_steps_on_streams(cudaStream_t stream, const EnqueueHook& hook) const {
  const StreamSchedule& sched = batch_->schedule;
  QUENCH_TRY(check(cudaEventRecord(forked_.get(), stream), "cudaEventRecord (fork)"));
  for (cudaStream_t a : aux_) QUENCH_TRY(check(cudaStreamWaitEvent(a, forked_.get(), 0), "cudaStreamWaitEvent (fork)"));
  auto steps = [&]() -> Status {
    for (size_t i = 0; i < steps_.size(); ++i) {
      const int t = sched.stream_of[i];
      cudaStream_t on = t == 0 ? stream : aux_[static_cast<size_t>(t - 1)];
      for (int w : sched.waits[i])
        QUENCH_TRY(check(cudaStreamWaitEvent(on, done_[static_cast<size_t>(w)].get(), 0), "cudaStreamWaitEvent")
                       .with_context(steps_[i].node->where()));
      QUENCH_TRY(enqueue_step(i, on));
      if (sched.recorded[i])
        QUENCH_TRY(check(cudaEventRecord(done_[i].get(), on), "cudaEventRecord").with_context(steps_[i].node->where()));
      if (hook) QUENCH_TRY(hook(static_cast<int>(i)));
    }
    for (int j : sched.joins)
      QUENCH_TRY(check(cudaStreamWaitEvent(stream, done_[static_cast<size_t>(j)].get(), 0), "cudaStreamWaitEvent (join)"));
    return {};
  };
  Status st = steps();
  if (!st.ok()) {
    // Whatever reached the auxiliary streams is joined anyway, so that a wait on `stream` covers
    // it (the caller waits before the staging is written again) and a capture can end.
    for (cudaStream_t a : aux_)
      if (cudaEventRecord(forked_.get(), a) == cudaSuccess) (void)cudaStreamWaitEvent(stream, forked_.get(), 0);
  }
  return st;
}

Status CudaExecutor::enqueue(cudaStream_t stream, const EnqueueHook& hook) const {
  QUENCH_TRY(enqueue_inputs(stream));
  if (hook) QUENCH_TRY(hook(-1));
  if (!aux_.empty()) {
    QUENCH_TRY(enqueue_steps_on_streams(stream, hook));
  } else {
    for (size_t i = 0; i < steps_.size(); ++i) {
      QUENCH_TRY(enqueue_step(i, stream));
      if (hook) QUENCH_TRY(hook(static_cast<int>(i)));
    }
  }
  QUENCH_TRY(enqueue_outputs(stream));
  if (hook) QUENCH_TRY(hook(static_cast<int>(steps_.size())));
  return {};
}

void CudaExecutor::finish_outputs(TensorMap& outputs) const {
  const ExecutionPlan& p = *batch_->plan;
  for (const Boundary& bd : outputs_) {
    const PlannedValue& pv = p.values[bd.value];
    Tensor& out = outputs[pv.name];
    if (out.dtype() != pv.dtype || out.shape() != pv.shape || out.is_view()) out = Tensor::zeros(pv.dtype, pv.shape);
    if (bd.bytes) std::memcpy(out.mutable_data(), bd.host, bd.bytes);
  }
}

Status CudaExecutor::run(const TensorMap& inputs, TensorMap& outputs, cudaStream_t stream) {
  QUENCH_TRY(stage_inputs(inputs));
  Status st = enqueue(stream);
  // The one wait of the run path (see the header); it also reports a kernel's fault. After a
  // failed enqueue it still waits, so that what was enqueued is done with the staging.
  Status done = check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (end of run)");
  QUENCH_TRY(st);
  QUENCH_TRY(done);
  finish_outputs(outputs);
  return {};
}

}  // namespace quench::cuda
