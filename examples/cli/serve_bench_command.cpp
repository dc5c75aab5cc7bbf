// `quench serve-bench MODEL`: a closed-loop load test of quench::Batcher (issue 7). Times one
// batch's compute, then drives the Batcher with --clients threads that each send one single
// request, wait for it and send the next: once batched (--batch, --max-delay-us) and once
// unbatched (max batch 1, no delay, the same queueing machinery), and compares the two.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/json_writer.h"
#include "cli/util.h"
#include "quench/batcher.h"
#include "quench/stats.h"

namespace quench::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kDefaultBatch = 8;  // when the model leaves its batch open and --batch is not given
constexpr int kComputeWarmup = 3, kComputeRuns = 20;
// Large enough that the Batcher's latency statistics keep every request of a phase.
constexpr int64_t kStatsWindow = int64_t{1} << 24;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// Microseconds with about four significant digits, never in exponent form.
std::string us_str(double us) { return fixed(us, us >= 1000 ? 0 : us >= 10 ? 1 : 2); }

// Seconds as given (0.3, 5, 1e-05).
std::string secs_str(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// The engine under test and how its max batch came about.
struct Setup {
  Engine engine;
  int64_t batch = 1;          // the engine's max batch = the batched phase's max batch
  bool batch_fixed = false;   // the model's leading dims are fixed, or the plan's max batch is 1
  bool from_plan = false;
};

// "One batch's compute": Context::run at the max batch on its own, host steady clock.
struct Compute {
  LatencyStats us;
  bool cuda_graph = false;
};

// One phase's measurement. Requests and latencies come from the clients (host steady clock,
// measured window only); queue wait and batches from BatcherStats.
struct Phase {
  std::string name;
  int64_t max_batch = 1, delay_us = 0;
  std::vector<int> preferred;
  int64_t requests = 0;  // succeeded and completed inside the measured window
  int64_t failures = 0;  // failed requests, warm-up included
  std::string first_error;
  double per_s = 0;
  LatencyStats latency_us;     // requests submitted inside the window, submit to result
  LatencyStats queue_wait_us;  // every request of the phase, warm-up included
  LatencyStats run_us;         // Context::run in the workers, every batch of the phase
  int64_t batches = 0;         // batches completed inside the measured window
  std::vector<int64_t> histogram;  // [b]: of those, batches of b requests
  double mean_batch = 0;
};

// What one client saw.
struct Tally {
  int64_t completed = 0, failures = 0;
  std::string first_error;
  std::vector<double> latency_us;
};

// A phase's timeline: warm-up until start, measured until end; no submit at or after end.
struct Window {
  Clock::time_point start, end;
};

// The client threads of one phase. They wait at a gate until every thread exists, so that
// starting hundreds of threads takes none of the window, and they are joined on every path,
// so that no client outlives the batcher it uses.
class Clients {
 public:
  ~Clients() {
    if (!go_) release(/*stop=*/true);
    join();
  }

  // One thread per request, each waiting at the gate.
  std::optional<CliError> start(Batcher& b, const std::vector<TensorMap>& requests, std::vector<Tally>& tallies) {
    try {
      threads_.reserve(requests.size());
      for (size_t i = 0; i < requests.size(); ++i)
        threads_.emplace_back([this, &b, &r = requests[i], &t = tallies[i]] { loop(b, r, t); });
    } catch (const std::exception& e) {
      return CliError{kExitRuntime, "cannot start client thread " + std::to_string(threads_.size() + 1) + " of " +
                                        std::to_string(requests.size()) + ": " + e.what()};
    }
    return std::nullopt;
  }

  // Opens the gate: the window's warm-up starts now.
  Window open(Clock::duration warmup, Clock::duration measured) {
    window_.start = Clock::now() + warmup;
    window_.end = window_.start + measured;
    release(/*stop=*/false);
    return window_;
  }

  // Waits for every client to finish its last request.
  void join() {
    for (std::thread& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  void release(bool stop) {
    stop_ = stop;
    go_ = true;  // publishes window_ and stop_
    go_.notify_all();
  }

  // Closed loop: submit, wait, record, repeat until the window ends. Any exception (out of
  // memory) is counted as a failure and ends this client only.
  void loop(Batcher& batcher, const TensorMap& request, Tally& t) noexcept {
    auto fail = [&](std::string why) {
      ++t.failures;
      if (t.first_error.empty()) t.first_error = std::move(why);
    };
    go_.wait(false);
    if (stop_) return;
    const Window w = window_;
    try {
      for (;;) {
        const Clock::time_point t0 = Clock::now();
        if (t0 >= w.end) break;
        Result<TensorMap> r = batcher.submit(request).get();  // the map's tensors share their bytes
        const Clock::time_point t1 = Clock::now();
        if (!r.ok()) {
          fail(r.status().to_string());
          continue;
        }
        if (t1 >= w.start && t1 < w.end) ++t.completed;
        if (t0 >= w.start) t.latency_us.push_back(micros(t1 - t0));
      }
    } catch (const std::exception& e) {
      fail(std::string("client thread: ") + e.what());
    }
  }

  Window window_;  // written before the gate opens, only read after
  std::atomic<bool> go_{false}, stop_{false};
  std::vector<std::thread> threads_;
};

// --preferred sizes must fit the max batch, known only once the model or plan is read.
std::optional<CliError> check_preferred(const Options& o, int64_t batch) {
  for (int64_t p : o.preferred)
    if (p > batch)
      return CliError{kExitUsage, "--preferred " + std::to_string(p) + " is outside 1.." + std::to_string(batch) +
                                      " (the max batch)"};
  return std::nullopt;
}

// Whether the model lets the batch vary: some input's leading dim is open.
bool batch_is_open(const Model& m) {
  for (const auto& in : m.inputs())
    if (!in.shape.empty() && in.shape.front() < 0) return true;
  return false;
}

// The engine from a plan file (at --batch, at most the plan's) or built from the model (at
// --batch, else the --shape batch, else 8 when the model's batch is open, else its fixed batch).
std::optional<CliError> prepare(Options& o, Setup* s) {
  s->from_plan = is_plan_file(o.model);
  if (s->from_plan) {
    if (auto e = load_plan_file(o, &s->engine, &s->batch)) return e;
    s->batch_fixed = s->engine.options().max_batch == 1;
    if (auto e = check_preferred(o, s->batch)) return e;
    o.backend = backend_name(s->engine.options().backend);
    o.precision = precision_name(s->engine.options().precision);
    return std::nullopt;
  }
  Model model;
  if (auto e = load_model(o, &model)) return e;
  if (auto e = check_input_names(o, model)) return e;
  s->batch_fixed = !batch_is_open(model);
  BuildOptions bo;
  bool explicit_batch = false;
  if (auto e = make_build_options(o, s->batch_fixed ? 1 : kDefaultBatch, &bo, &explicit_batch)) return e;
  if (auto e = check_preferred(o, bo.max_batch)) return e;  // before the build, which may take long
  auto built = build(model, bo);
  if (!built.ok()) return CliError{kExitRuntime, "cannot build the engine: " + built.status().to_string()};
  s->engine = std::move(built).value();
  return check_batch(s->engine.inputs(), bo.max_batch, explicit_batch, &s->batch);
}

// Seeded random inputs (as 'quench run' fills them) at `batch`: a leading dim equal to the
// engine's max batch becomes `batch`.
TensorMap random_inputs(const Engine& engine, int64_t batch, uint64_t seed) {
  std::mt19937_64 rng(seed);
  TensorMap feeds;
  for (TensorInfo in : engine.inputs()) {
    if (!in.shape.empty() && in.shape[0] == engine.options().max_batch) in.shape[0] = batch;
    Tensor t = Tensor::zeros(in.dtype, in.shape);
    fill_random(t, rng);
    feeds[in.name] = std::move(t);
  }
  return feeds;
}

std::optional<CliError> time_compute(const Options& o, const Setup& s, Compute* out) {
  ContextOptions co;
  co.cuda_graph = o.cuda_graph;  // the cpu backend ignores it
  auto ctx = s.engine.create_context(co);
  if (!ctx.ok()) return CliError{kExitRuntime, "cannot create a context: " + ctx.status().to_string()};
  out->cuda_graph = ctx->uses_cuda_graph();
  const TensorMap feeds = random_inputs(s.engine, s.batch, o.seed);
  TensorMap outputs;
  std::vector<double> us;
  for (int i = 0; i < kComputeWarmup + kComputeRuns; ++i) {
    const Clock::time_point t0 = Clock::now();
    Status st = ctx->run(feeds, outputs);
    const Clock::time_point t1 = Clock::now();
    if (!st.ok())
      return CliError{kExitRuntime, "run at batch " + std::to_string(s.batch) + " failed: " + st.to_string()};
    if (i >= kComputeWarmup) us.push_back(micros(t1 - t0));
  }
  out->us = summarize_latencies(us);
  return std::nullopt;
}

// Runs one phase: a Batcher with `bo`, the clients for warm-up + measured seconds, then drain.
std::optional<CliError> run_phase(const Options& o, const Engine& engine, const BatcherOptions& bo,
                                  const std::vector<TensorMap>& requests, Phase* p) {
  auto created = Batcher::create(engine, bo);
  if (!created.ok())
    return CliError{kExitRuntime, "cannot create the " + p->name + " phase's batcher: " + created.status().to_string()};
  Batcher batcher = std::move(created).value();
  p->max_batch = batcher.options().max_batch;
  p->delay_us = batcher.options().max_queue_delay_us;
  p->preferred = batcher.options().preferred_batch_sizes;

  std::vector<Tally> tallies(requests.size());
  auto secs = [](double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); };
  BatcherStats at_start, at_end;  // the batch counters at the window's ends
  {
    Clients clients;
    if (auto e = clients.start(batcher, requests, tallies)) return e;  // ~Clients stops and joins those started
    const Window w = clients.open(secs(o.warmup_seconds), secs(o.seconds));
    std::this_thread::sleep_until(w.start);
    at_start = batcher.stats();
    std::this_thread::sleep_until(w.end);
    at_end = batcher.stats();
    clients.join();
  }
  batcher.shutdown(ShutdownMode::kDrain);  // the clients waited for every request, so nothing is left
  const BatcherStats end = batcher.stats();

  std::vector<double> latency;
  for (Tally& t : tallies) {
    p->requests += t.completed;
    p->failures += t.failures;
    if (p->first_error.empty()) p->first_error = t.first_error;
    latency.insert(latency.end(), t.latency_us.begin(), t.latency_us.end());
  }
  p->per_s = static_cast<double>(p->requests) / o.seconds;
  p->latency_us = summarize_latencies(latency);
  p->queue_wait_us = end.queue_wait_us;
  p->run_us = end.run_us;
  p->batches = at_end.batches - at_start.batches;
  p->histogram = at_end.batch_size_histogram;
  int64_t sampled = 0;
  for (size_t b = 0; b < p->histogram.size(); ++b) {
    if (b < at_start.batch_size_histogram.size()) p->histogram[b] -= at_start.batch_size_histogram[b];
    sampled += static_cast<int64_t>(b) * p->histogram[b];
  }
  p->mean_batch = p->batches > 0 ? static_cast<double>(sampled) / static_cast<double>(p->batches) : 0.0;
  return std::nullopt;
}

// Everything the report shows beyond the phases.
struct Summary {
  double ratio = 0;      // batched / unbatched throughput; NaN when the baseline is 0
  double bound_us = 0;   // delay + one batch's compute (median)
  bool measured = false; // the batched phase has latency samples to compare
  bool met = false;
};

Summary summarize_bench(const Options& o, const Compute& c, const Phase& batched, const Phase& unbatched) {
  Summary s;
  s.ratio = unbatched.per_s > 0 ? batched.per_s / unbatched.per_s : std::numeric_limits<double>::quiet_NaN();
  s.bound_us = static_cast<double>(o.max_delay_us) + c.us.p50;
  s.measured = batched.latency_us.count > 0;
  s.met = s.measured && batched.latency_us.p99 <= s.bound_us;
  return s;
}

std::string batch_note(const Setup& s) {
  if (s.batch != 1) return "";
  const char* why = !s.batch_fixed ? "--batch 1" : s.from_plan ? "the plan's max batch is 1" : "the model's batch is fixed at 1";
  return std::string(why) + ": batching cannot help, both phases run batch 1";
}

std::string sizes_str(const std::vector<int>& sizes) {
  std::string out;
  for (int v : sizes) {
    if (!out.empty()) out += ',';
    out += std::to_string(v);
  }
  return out.empty() ? "none" : out;
}

void print_phase(const Phase& p, int64_t workers, const Options& o) {
  std::printf("\n%s (max batch %lld, delay %lld us, preferred %s, %lld worker%s)\n", p.name.c_str(),
              static_cast<long long>(p.max_batch), static_cast<long long>(p.delay_us), sizes_str(p.preferred).c_str(),
              static_cast<long long>(workers), workers == 1 ? "" : "s");
  std::printf("  requests    %lld completed in %s s, %lld failed: %s inferences/s\n", static_cast<long long>(p.requests),
              secs_str(o.seconds).c_str(), static_cast<long long>(p.failures), fixed(p.per_s, 1).c_str());
  if (!p.first_error.empty()) std::printf("  first error %s\n", one_line(p.first_error).c_str());
  const LatencyStats& L = p.latency_us;
  std::printf("  latency us  (host steady clock, submit to result, %lld requests submitted in the window)\n",
              static_cast<long long>(L.count));
  std::printf("  %10s %10s %10s %10s %10s %10s %10s\n", "min", "mean", "p50", "p90", "p99", "max", "stddev");
  std::printf("  %10s %10s %10s %10s %10s %10s %10s\n", us_str(L.min).c_str(), us_str(L.mean).c_str(),
              us_str(L.p50).c_str(), us_str(L.p90).c_str(), us_str(L.p99).c_str(), us_str(L.max).c_str(),
              us_str(L.stddev).c_str());
  std::printf("  queue wait  p50 %s us, p99 %s us (the batcher's, every request of the phase, warm-up included)\n",
              us_str(p.queue_wait_us.p50).c_str(), us_str(p.queue_wait_us.p99).c_str());
  std::printf("  batch run   p50 %s us, p99 %s us (Context::run in the workers, every batch of the phase)\n",
              us_str(p.run_us.p50).c_str(), us_str(p.run_us.p99).c_str());
  std::string sizes;
  for (size_t b = 1; b < p.histogram.size(); ++b)
    if (p.histogram[b] > 0) {
      sizes += ' ';  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on " " + std::string
      sizes += std::to_string(b) + ':' + std::to_string(p.histogram[b]);
    }
  std::printf("  batches     %lld completed in the window, mean size %s; size:count%s\n", static_cast<long long>(p.batches),
              fixed(p.mean_batch, 2).c_str(), sizes.empty() ? " none" : sizes.c_str());
}

void print_text(const Options& o, const std::string& device, const Setup& s, const Compute& c, const Phase& batched,
                const Phase& unbatched, const Summary& sum) {
  std::printf("model       %s\n", o.model.c_str());
  std::printf("device      %s\n", device.c_str());
  std::printf("backend     %s\n", o.backend.c_str());
  std::printf("precision   %s\n", o.precision.c_str());
  std::printf("max batch   %lld\n", static_cast<long long>(s.batch));
  if (const std::string note = batch_note(s); !note.empty()) std::printf("note        %s\n", note.c_str());
  std::printf("clients     %lld threads, closed loop: each sends one request, waits for it, sends the next\n",
              static_cast<long long>(o.clients));
  std::printf("workers     %lld\n", static_cast<long long>(o.workers));
  std::printf("delay       %lld us (batched phase)\n", static_cast<long long>(o.max_delay_us));
  std::printf("seconds     %s measured after %s warm-up, per phase\n", secs_str(o.seconds).c_str(),
              secs_str(o.warmup_seconds).c_str());
  std::printf("compute     one batch of %lld: median %s us over %d runs after %d warm-up (Context::run, host steady clock%s)\n",
              static_cast<long long>(s.batch), us_str(c.us.p50).c_str(), kComputeRuns, kComputeWarmup,
              o.backend != "cuda" ? "" : c.cuda_graph ? ", CUDA graphs on" : ", CUDA graphs off");
  print_phase(batched, o.workers, o);
  print_phase(unbatched, o.workers, o);
  std::printf("\n");
  if (std::isnan(sum.ratio))
    std::printf("ratio       n/a: the unbatched phase completed no request\n");
  else
    std::printf("ratio       %sx (batched %s / unbatched %s inferences/s)\n", fixed(sum.ratio, 2).c_str(),
                fixed(batched.per_s, 1).c_str(), fixed(unbatched.per_s, 1).c_str());
  std::printf("bound       %s us = delay %lld us + one batch's compute %s us; batched p99 %s: %s\n",
              us_str(sum.bound_us).c_str(), static_cast<long long>(o.max_delay_us), us_str(c.us.p50).c_str(),
              sum.measured ? (us_str(batched.latency_us.p99) + " us").c_str() : "n/a",
              !sum.measured ? "not measured (no request submitted in the window completed)" : sum.met ? "met" : "not met");
}

void phase_json(JsonWriter& j, const Phase& p) {
  j.key(p.name).begin_object();
  j.field("max_batch", p.max_batch).field("max_delay_us", p.delay_us);
  j.key("preferred_batch_sizes").begin_array(true);
  for (int v : p.preferred) j.value(v);
  j.end_array();
  j.field("requests", p.requests).field("failures", p.failures);
  if (!p.first_error.empty()) j.field("first_error", p.first_error);
  j.field("throughput_per_s", p.per_s);
  latency_json(j, "latency_us", p.latency_us, "host steady_clock, submit to result");
  j.key("queue_wait_us").begin_object().field("scope", "every request of the phase, warm-up included");
  j.field("count", p.queue_wait_us.count).field("p50", p.queue_wait_us.p50).field("p99", p.queue_wait_us.p99).end_object();
  j.key("batch_run_us").begin_object().field("scope", "Context::run in the workers, every batch of the phase");
  j.field("count", p.run_us.count).field("p50", p.run_us.p50).field("p99", p.run_us.p99).end_object();
  j.field("batches", p.batches).field("mean_batch_size", p.mean_batch);
  j.key("batch_size_histogram").begin_array(true);  // [b]: batches of b requests
  for (int64_t n : p.histogram) j.value(n);
  j.end_array();
  j.end_object();
}

std::string report_json(const Options& o, const std::string& device, const Setup& s, const Compute& c,
                        const Phase& batched, const Phase& unbatched, const Summary& sum) {
  JsonWriter j;
  j.begin_object();
  j.field("command", "serve-bench").field("model", o.model).field("device", device).field("backend", o.backend);
  j.field("precision", o.precision).field("max_batch", s.batch).field("clients", o.clients).field("workers", o.workers);
  j.field("max_delay_us", o.max_delay_us).field("seconds", o.seconds).field("warmup_seconds", o.warmup_seconds);
  j.field("seed", static_cast<uint64_t>(o.seed)).field("cuda_graph", c.cuda_graph);
  if (const std::string note = batch_note(s); !note.empty()) j.field("note", note);
  j.key("compute_us").begin_object().field("batch", s.batch).field("clock", "host steady_clock around Context::run");
  j.field("warmup", kComputeWarmup).field("runs", c.us.count).field("median", c.us.p50).field("min", c.us.min);
  j.field("max", c.us.max).end_object();
  j.key("phases").begin_object();
  phase_json(j, batched);
  phase_json(j, unbatched);
  j.end_object();
  j.field("throughput_ratio", sum.ratio).field("bound_us", sum.bound_us);
  j.field("batched_p99_us", batched.latency_us.p99);
  if (sum.measured)
    j.field("bound_met", sum.met);
  else
    j.key("bound_met").null();
  j.end_object();
  return j.str();
}

}  // namespace

int serve_bench_command(const Options& opts) {
  const std::string cmd = "serve-bench";
  Options o = opts;  // backend and precision come from the plan file when one is run
  Setup s;
  if (auto e = prepare(o, &s)) return report_error(cmd, *e);

  Compute compute;
  if (auto e = time_compute(o, s, &compute)) return report_error(cmd, *e);

  // One pre-made single request per client, the same in both phases.
  std::vector<TensorMap> requests;
  requests.reserve(static_cast<size_t>(o.clients));
  for (int64_t i = 0; i < o.clients; ++i) requests.push_back(random_inputs(s.engine, 1, o.seed + static_cast<uint64_t>(i)));

  BatcherOptions bo;
  bo.max_batch = static_cast<int>(s.batch);
  bo.max_queue_delay_us = o.max_delay_us;
  bo.preferred_batch_sizes.assign(o.preferred.begin(), o.preferred.end());
  bo.workers = static_cast<int>(o.workers);
  bo.stats_window = kStatsWindow;
  bo.context.cuda_graph = o.cuda_graph;  // the cpu backend ignores it
  Phase batched;
  batched.name = "batched";
  if (auto e = run_phase(o, s.engine, bo, requests, &batched)) return report_error(cmd, *e);

  bo.max_batch = 1;  // each request alone, through the same queue and workers
  bo.max_queue_delay_us = 0;
  bo.preferred_batch_sizes.clear();
  Phase unbatched;
  unbatched.name = "unbatched";
  if (auto e = run_phase(o, s.engine, bo, requests, &unbatched)) return report_error(cmd, *e);

  const Summary sum = summarize_bench(o, compute, batched, unbatched);
  const std::string device = device_description(s.engine.options().backend);
  if (o.json)
    std::fputs(report_json(o, device, s, compute, batched, unbatched, sum).c_str(), stdout);
  else
    print_text(o, device, s, compute, batched, unbatched, sum);
  if (std::fflush(stdout) != 0) return kExitRuntime;
  const int64_t failures = batched.failures + unbatched.failures;
  if (failures > 0) {
    const Phase& first = batched.failures > 0 ? batched : unbatched;
    return report_error(cmd, {kExitRuntime, std::to_string(failures) + " request(s) failed; first, in the " + first.name +
                                                " phase: " + first.first_error});
  }
  return kExitOk;
}

}  // namespace quench::cli
