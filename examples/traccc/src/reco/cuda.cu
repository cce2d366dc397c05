// The CUDA chain: the stages of cpu.cpp as kernels, one thread per element, calling the same
// per-element functions. Host steps (input validation, ambiguity resolution) are the shared
// ones of host_steps.cpp. Each Reconstructor owns a stream and grow-only device buffers, so
// several instances (one per server thread) share a GPU without allocating per event.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "clustering.hpp"
#include "following.hpp"
#include "host_steps.hpp"
#include "reco.hpp"

namespace traccc {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}

/** A grow-only device array (RAII). */
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  T* ensure(size_t n) {
    if (n > cap_) {
      if (ptr_) check(cudaFree(ptr_), "cudaFree");
      ptr_ = nullptr;
      const size_t cap = n + n / 4 + 64;
      check(cudaMalloc(reinterpret_cast<void**>(&ptr_), cap * sizeof(T)), "cudaMalloc");
      cap_ = cap;
    }
    return ptr_;
  }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  size_t cap_ = 0;
};

/** A grow-only pinned host array (RAII), for the counts and candidates read back each event. */
template <class T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (ptr_) cudaFreeHost(ptr_);
  }
  T* ensure(size_t n) {
    if (n > cap_) {
      if (ptr_) check(cudaFreeHost(ptr_), "cudaFreeHost");
      ptr_ = nullptr;
      const size_t cap = n + n / 4 + 64;
      check(cudaMallocHost(reinterpret_cast<void**>(&ptr_), cap * sizeof(T)), "cudaMallocHost");
      cap_ = cap;
    }
    return ptr_;
  }

 private:
  T* ptr_ = nullptr;
  size_t cap_ = 0;
};

constexpr int kBlock = 128;
constexpr int kScanThreads = 1024;

// A launch with zero blocks is an error in CUDA: callers skip empty stages.
inline int blocks(size_t n) { return static_cast<int>((n + kBlock - 1) / kBlock); }

__global__ void k_ccl(const int64_t* pos, const int* cell_begin, int n_mod, int* parent, int* cluster, int* counts) {
  const int m = blockIdx.x * blockDim.x + threadIdx.x;
  if (m < n_mod) counts[m] = ccl_module(pos, cell_begin[m], cell_begin[m + 1], parent, cluster);
}

__global__ void k_measure(Detector det, const int64_t* pos, const float* prop, const int* cell_begin,
                          const int* cluster, const int* counts, const int* meas_begin, int n_mod, Measurement* meas) {
  const int m = blockIdx.x * blockDim.x + threadIdx.x;
  if (m < n_mod)
    measure_module(det, m, pos, prop, cell_begin[m], cell_begin[m + 1], cluster, counts[m], meas + meas_begin[m]);
}

__global__ void k_spacepoints(Detector det, const Measurement* meas, int n, Spacepoint* sps) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < n) sps[j] = make_spacepoint(det, meas[j]);
}

__global__ void k_seeds(SeedInputs in, int n, int keep, Seed* slots, int* slot_count) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < n) seed_slots(in, j, keep, slots, slot_count);
}

__global__ void k_compact_seeds(const Seed* slots, const int* slot_count, const int* offset, int n, int keep,
                                Seed* seeds) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  for (int i = 0; i < slot_count[j]; ++i) seeds[offset[j] + i] = slots[static_cast<size_t>(j) * keep + i];
}

__global__ void k_follow(SeedInputs in, const Seed* seeds, int n, Candidate* cands, int* keep_flag, RecoConfig cfg) {
  const int s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s >= n) return;
  Candidate c;
  follow_seed(in, seeds, s, &c);
  cands[s] = c;
  // The same pre-selection as resolve_ambiguities: only these travel back to the host.
  keep_flag[s] = passes_fit_quality(cfg, c) ? 1 : 0;
}

__global__ void k_compact_candidates(const Candidate* cands, const int* flag, const int* offset, int n,
                                     Candidate* out) {
  const int s = blockIdx.x * blockDim.x + threadIdx.x;
  if (s < n && flag[s]) out[offset[s]] = cands[s];
}

__global__ void k_fit(SeedInputs in, const Seed* seeds, const Candidate* selected, const int* rows, int n,
                      FitOutputs out) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t < n) fit_track(in, seeds, selected[t], t, rows[t], out);
}

/** Exclusive scan of in[0..n) into out[0..n] (out[n] = total) by one block: chunk sums, then a block scan. */
__global__ void k_scan(const int* in, int n, int* out) {
  __shared__ int part[kScanThreads];
  const int tid = threadIdx.x;
  const int chunk = (n + kScanThreads - 1) / kScanThreads;
  const int b = min(n, tid * chunk);
  const int e = min(n, b + chunk);
  int sum = 0;
  for (int i = b; i < e; ++i) sum += in[i];
  part[tid] = sum;
  __syncthreads();
  for (int off = 1; off < kScanThreads; off <<= 1) {
    const int v = tid >= off ? part[tid - off] : 0;
    __syncthreads();
    part[tid] += v;
    __syncthreads();
  }
  int run = part[tid] - sum;  // exclusive prefix of this chunk
  for (int i = b; i < e; ++i) {
    const int v = in[i];
    out[i] = run;
    run += v;
  }
  if (tid == kScanThreads - 1) out[n] = part[tid];
}

class CudaReconstructor final : public Reconstructor {
 public:
  CudaReconstructor(const RecoConfig& cfg, int device) : cfg_(cfg), det_(make_detector()), device_(device) {
    int count = 0;
    check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    if (device < 0 || device >= count)
      throw std::runtime_error("CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) +
                               " visible)");
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~CudaReconstructor() override {
    if (stream_) cudaStreamDestroy(stream_);
  }

  void run(const CellsView& cells, TracksResult* out) override {
    check(cudaSetDevice(device_), "cudaSetDevice");
    RecoStats st;
    StageTimer timer;
    index_cells(det_, cells, &mc_);
    st.cells = cells.n;
    const int n_mod = det_.n_modules;
    const int n_cells = mc_.n;
    int64_t* pos = d_pos_.ensure(4 * static_cast<size_t>(n_cells) + 1);
    float* prop = d_prop_.ensure(2 * static_cast<size_t>(n_cells) + 1);
    int* cell_begin = d_cell_begin_.ensure(n_mod + 1);
    copy_in(pos, mc_.positions, 4 * static_cast<size_t>(n_cells));
    copy_in(prop, mc_.properties, 2 * static_cast<size_t>(n_cells));
    copy_in(cell_begin, mc_.cell_begin.data(), n_mod + 1);
    st.ms_prepare = timer.lap();

    // Clustering and measurements.
    int* parent = d_parent_.ensure(n_cells + 1);
    int* cluster = d_cluster_.ensure(n_cells + 1);
    int* counts = d_counts_.ensure(n_mod);
    int* meas_begin = d_meas_begin_.ensure(n_mod + 1);
    k_ccl<<<blocks(n_mod), kBlock, 0, stream_>>>(pos, cell_begin, n_mod, parent, cluster, counts);
    k_scan<<<1, kScanThreads, 0, stream_>>>(counts, n_mod, meas_begin);
    const int n_meas = read_int(meas_begin + n_mod);
    Measurement* meas = d_meas_.ensure(n_meas + 1);
    Spacepoint* sps = d_sps_.ensure(n_meas + 1);
    k_measure<<<blocks(n_mod), kBlock, 0, stream_>>>(det_, pos, prop, cell_begin, cluster, counts, meas_begin, n_mod,
                                                     meas);
    if (n_meas > 0) k_spacepoints<<<blocks(n_meas), kBlock, 0, stream_>>>(det_, meas, n_meas, sps);
    check(cudaGetLastError(), "clustering kernels");
    st.measurements = static_cast<size_t>(n_meas);
    st.ms_clustering = timer.lap();

    // Seeding.
    const SeedInputs in{det_, cfg_, sps, meas, meas_begin};
    const int keep = std::min(cfg_.seed_max_per_middle, kMaxSeedsPerMiddle);
    Seed* slots = d_slots_.ensure(static_cast<size_t>(n_meas) * keep + 1);
    int* slot_count = d_slot_count_.ensure(n_meas + 1);
    int* slot_offset = d_slot_offset_.ensure(n_meas + 1);
    if (n_meas > 0) k_seeds<<<blocks(n_meas), kBlock, 0, stream_>>>(in, n_meas, keep, slots, slot_count);
    k_scan<<<1, kScanThreads, 0, stream_>>>(slot_count, n_meas, slot_offset);
    const int n_seeds = read_int(slot_offset + n_meas);
    Seed* seeds = d_seeds_.ensure(n_seeds + 1);
    if (n_seeds > 0)
      k_compact_seeds<<<blocks(n_meas), kBlock, 0, stream_>>>(slots, slot_count, slot_offset, n_meas, keep, seeds);
    check(cudaGetLastError(), "seeding kernels");
    st.seeds = static_cast<size_t>(n_seeds);
    st.ms_seeding = timer.lap();

    // Track following; only candidates that pass the pre-selection are copied back.
    Candidate* cands = d_cands_.ensure(n_seeds + 1);
    int* flag = d_flag_.ensure(n_seeds + 1);
    int* flag_offset = d_flag_offset_.ensure(n_seeds + 1);
    if (n_seeds > 0) k_follow<<<blocks(n_seeds), kBlock, 0, stream_>>>(in, seeds, n_seeds, cands, flag, cfg_);
    k_scan<<<1, kScanThreads, 0, stream_>>>(flag, n_seeds, flag_offset);
    const int n_good = read_int(flag_offset + n_seeds);
    Candidate* good = d_good_.ensure(n_good + 1);
    if (n_good > 0) k_compact_candidates<<<blocks(n_seeds), kBlock, 0, stream_>>>(cands, flag, flag_offset, n_seeds, good);
    Candidate* h_good = h_good_.ensure(n_good + 1);
    copy_out(h_good, good, n_good);
    check(cudaStreamSynchronize(stream_), "track following");
    st.candidates = static_cast<size_t>(n_good);
    st.ms_following = timer.lap();

    const std::vector<int> selected = resolve_ambiguities(cfg_, h_good, n_good, n_meas);
    std::vector<int> rows;
    const size_t n_rows = track_rows(h_good, selected, &rows);
    const int n_tracks = static_cast<int>(selected.size());
    Candidate* h_sel = h_sel_.ensure(n_tracks + 1);
    int* h_rows = h_rows_.ensure(n_tracks + 1);
    for (int t = 0; t < n_tracks; ++t) {
      h_sel[t] = h_good[selected[t]];
      h_rows[t] = rows[t];
    }
    st.ms_ambiguity = timer.lap();

    // Fit and outputs.
    Candidate* sel = d_sel_.ensure(n_tracks + 1);
    int* d_rows = d_rows_.ensure(n_tracks + 1);
    float* trk = d_trk_.ensure(static_cast<size_t>(n_tracks) * kTrkParamColumns + 1);
    float* mrows = d_mrows_.ensure(n_rows * kMeasurementColumns + 1);
    int64_t* gids = d_gids_.ensure(n_rows + 1);
    copy_in(sel, static_cast<const Candidate*>(h_sel), n_tracks);
    copy_in(d_rows, static_cast<const int*>(h_rows), n_tracks);
    // Separator rows stay zero; every other row is written by its track's thread.
    if (n_rows) check(cudaMemsetAsync(mrows, 0, sizeof(float) * n_rows * kMeasurementColumns, stream_), "memset");
    if (n_rows) check(cudaMemsetAsync(gids, 0, sizeof(int64_t) * n_rows, stream_), "memset");
    if (n_tracks > 0)
      k_fit<<<blocks(n_tracks), kBlock, 0, stream_>>>(in, seeds, sel, d_rows, n_tracks, FitOutputs{trk, mrows, gids});
    check(cudaGetLastError(), "fit kernel");
    out->n_tracks = static_cast<size_t>(n_tracks);
    out->n_rows = n_rows;
    out->trk_params.resize(static_cast<size_t>(n_tracks) * kTrkParamColumns);
    out->measurements.resize(n_rows * kMeasurementColumns);
    out->geometry_ids.resize(n_rows);
    copy_out(out->trk_params.data(), trk, out->trk_params.size());
    copy_out(out->measurements.data(), mrows, out->measurements.size());
    copy_out(out->geometry_ids.data(), gids, out->geometry_ids.size());
    check(cudaStreamSynchronize(stream_), "fit");
    st.tracks = static_cast<size_t>(n_tracks);
    st.ms_fit = timer.lap();
    st.ms_total = timer.total();
    out->stats = st;
  }

 private:
  template <class T>
  void copy_in(T* dst, const T* src, size_t n) {
    if (n) check(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, stream_), "copy to device");
  }
  template <class T>
  void copy_out(T* dst, const T* src, size_t n) {
    if (n) check(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, stream_), "copy to host");
  }
  int read_int(const int* src) {
    int* h = h_int_.ensure(1);
    check(cudaMemcpyAsync(h, src, sizeof(int), cudaMemcpyDeviceToHost, stream_), "read count");
    check(cudaStreamSynchronize(stream_), "kernels");
    return *h;
  }

  RecoConfig cfg_;
  Detector det_;
  int device_;
  cudaStream_t stream_ = nullptr;
  ModuleCells mc_;
  DeviceBuffer<int64_t> d_pos_, d_gids_;
  DeviceBuffer<float> d_prop_, d_trk_, d_mrows_;
  DeviceBuffer<int> d_cell_begin_, d_parent_, d_cluster_, d_counts_, d_meas_begin_, d_slot_count_, d_slot_offset_,
      d_flag_, d_flag_offset_, d_rows_;
  DeviceBuffer<Measurement> d_meas_;
  DeviceBuffer<Spacepoint> d_sps_;
  DeviceBuffer<Seed> d_slots_, d_seeds_;
  DeviceBuffer<Candidate> d_cands_, d_good_, d_sel_;
  PinnedBuffer<Candidate> h_good_, h_sel_;
  PinnedBuffer<int> h_rows_, h_int_;
};

}  // namespace

std::unique_ptr<Reconstructor> make_cuda_reconstructor(const RecoConfig& config, int device) {
  return std::make_unique<CudaReconstructor>(config, device);
}

bool cuda_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

}  // namespace traccc
