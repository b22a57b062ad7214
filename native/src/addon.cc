// Node-API addon around the libbpf skeleton of native/bpf/probe.bpf.c.
//
// One reader thread per probe drains the BPF ring buffer into fixed-size
// batch buffers and hands each full (or flush-interval-old) batch to JS with
// one threadsafe-function call, so the event loop never blocks on the ring and
// JS crosses the boundary once per batch, not per event. A small pool bounds
// the batches in flight: when JS falls behind, "block" mode stops reading (the
// kernel ring fills and the kernel counts its drops), "drop" mode keeps
// draining and counts the records it discards here.
#include <napi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

extern "C" {
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
}
#include "pg_event.h"
#include "probe.skel.h"

namespace {

constexpr int kBatchFull = -4242;  // returned by the ring callback to stop draining

struct Batch {
  std::vector<uint8_t> data;
  size_t used = 0;
  uint32_t count = 0;
};

// State shared by the probe object, its reader thread and batches in flight.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Batch*> free_batches;  // owned; batches in flight are owned by their Delivery
  bool stopping = false;
  bool closed = false;  // JS side: drop batches arriving after close()
  std::atomic<uint64_t> batches{0}, records{0}, bytes{0}, user_drops{0}, oversize{0};
  size_t batch_bytes = 1 << 20;

  Batch* Acquire(bool wait) {
    std::unique_lock<std::mutex> lock(mu);
    if (wait) cv.wait(lock, [&] { return stopping || !free_batches.empty(); });
    if (free_batches.empty()) return nullptr;
    Batch* b = free_batches.back();
    free_batches.pop_back();
    b->used = 0;
    b->count = 0;
    return b;
  }
  void Release(Batch* b) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closed) {
        delete b;
        return;
      }
      free_batches.push_back(b);
    }
    cv.notify_all();
  }
  // After close: frees the idle batches now; ones still in flight are freed on return.
  void FreeIdle() {
    std::lock_guard<std::mutex> lock(mu);
    for (Batch* b : free_batches) delete b;
    free_batches.clear();
  }
  ~Shared() { FreeIdle(); }
};

struct Delivery {
  std::shared_ptr<Shared> shared;
  Batch* batch;
};

void CallJs(Napi::Env env, Napi::Function fn, std::nullptr_t*, Delivery* d) {
  std::unique_ptr<Delivery> owned(d);
  if (env == nullptr || fn.IsEmpty()) {
    d->shared->Release(d->batch);
    return;
  }
  bool closed;
  {
    std::lock_guard<std::mutex> lock(d->shared->mu);
    closed = d->shared->closed;
  }
  if (closed) {
    d->shared->Release(d->batch);
    return;
  }
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::Copy(env, d->batch->data.data(), d->batch->used);
  uint32_t count = d->batch->count;
  d->shared->Release(d->batch);
  fn.Call({buf, Napi::Number::New(env, count)});
}

using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Delivery, CallJs>;

std::string LibbpfError(const char* what, int err) {
  char msg[256];
  libbpf_strerror(err, msg, sizeof(msg));
  return std::string(what) + ": " + msg + " (errno " + std::to_string(-err < 0 ? err : -err) + ")";
}

class Probe : public Napi::ObjectWrap<Probe> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Probe",
                       {
                           InstanceMethod("start", &Probe::Start),
                           InstanceMethod("setSyscalls", &Probe::SetSyscalls),
                           InstanceMethod("setFilters", &Probe::SetFilters),
                           InstanceMethod("setSchedMask", &Probe::SetSchedMask),
                           InstanceMethod("stats", &Probe::Stats),
                           InstanceMethod("programIds", &Probe::ProgramIds),
                           InstanceMethod("close", &Probe::Close),
                       });
  }

  // new Probe({ ringBytes, batchBytes, flushMs, dropWhenBehind, syscallTable: Uint8Array, schedMask })
  Probe(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Probe>(info) {
    Napi::Env env = info.Env();
    Napi::Object opts = info[0].As<Napi::Object>();
    uint32_t ring_bytes = opts.Get("ringBytes").As<Napi::Number>().Uint32Value();
    shared_ = std::make_shared<Shared>();
    shared_->batch_bytes = opts.Get("batchBytes").As<Napi::Number>().Uint32Value();
    flush_ms_ = opts.Get("flushMs").As<Napi::Number>().Uint32Value();
    drop_when_behind_ = opts.Get("dropWhenBehind").As<Napi::Boolean>().Value();

    libbpf_set_print(nullptr);
    skel_ = pg_probe__open();
    if (!skel_) throw Napi::Error::New(env, LibbpfError("opening the BPF object failed", -errno));
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) ncpu = 1;
    bpf_map__set_max_entries(skel_->maps.pg_scratch_map, ncpu);
    int err = bpf_map__set_max_entries(skel_->maps.pg_ring, ring_bytes);
    if (err) Fail(env, LibbpfError("ring size must be a power of two multiple of the page size", err));
    err = pg_probe__load(skel_);
    if (err) Fail(env, LibbpfError("loading the BPF programs failed (verifier or permissions)", err));
    ApplySyscallTable(env, opts.Get("syscallTable").As<Napi::Uint8Array>());
    skel_->bss->pg_sched_mask = opts.Get("schedMask").As<Napi::Number>().Uint32Value();
    skel_->bss->pg_wakeup_bytes = opts.Get("wakeupBytes").As<Napi::Number>().Uint32Value();
    // Exclusions go in before attach so not even our own set-up syscalls get through.
    ApplyFilters(env, opts.Get("filters").As<Napi::Object>());
    err = pg_probe__attach(skel_);
    if (err) Fail(env, LibbpfError("attaching the BPF programs failed", err));
    rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.pg_ring), &Probe::OnRecord, this, nullptr);
    if (!rb_) Fail(env, LibbpfError("creating the ring buffer reader failed", -errno));
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    for (int i = 0; i < 4; i++) {
      Batch* b = new Batch();
      b->data.resize(shared_->batch_bytes);
      shared_->free_batches.push_back(b);
    }
  }

  ~Probe() override { Teardown(); }

 private:
  [[noreturn]] void Fail(Napi::Env env, const std::string& msg) {
    Teardown();
    throw Napi::Error::New(env, msg);
  }

  void ApplySyscallTable(Napi::Env env, Napi::Uint8Array table) {
    const size_t entry = sizeof(struct pg_sc_desc);
    if (table.ByteLength() != entry * PG_MAX_SYSCALL_NR)
      throw Napi::Error::New(env, "syscall table must hold " + std::to_string(PG_MAX_SYSCALL_NR) + " entries of " +
                                      std::to_string(entry) + " bytes");
    int fd = bpf_map__fd(skel_->maps.pg_syscalls);
    for (uint32_t nr = 0; nr < PG_MAX_SYSCALL_NR; nr++) {
      struct pg_sc_desc d;
      std::memcpy(&d, table.Data() + nr * entry, entry);
      if (bpf_map_update_elem(fd, &nr, &d, BPF_ANY) != 0)
        throw Napi::Error::New(env, LibbpfError("updating the syscall table failed", -errno));
    }
  }

  static int OnRecord(void* ctx, void* data, size_t size) {
    Probe* self = static_cast<Probe*>(ctx);
    Batch* b = self->current_;
    if (b == nullptr) {  // drop mode with every batch in flight
      self->shared_->user_drops++;
      return 0;
    }
    if (size > b->data.size()) {
      self->shared_->oversize++;
      return 0;
    }
    if (b->used + size > b->data.size()) return kBatchFull;  // unreachable: we stop early below
    std::memcpy(b->data.data() + b->used, data, size);
    b->used += size;
    b->count++;
    if (b->data.size() - b->used < PG_BUF_MAX_RECORD) return kBatchFull;
    return 0;
  }
  static constexpr size_t PG_BUF_MAX_RECORD = 32768;

  void Deliver() {
    Batch* b = current_;
    current_ = nullptr;
    if (b == nullptr) return;
    if (b->count == 0) {
      shared_->Release(b);
      return;
    }
    shared_->batches++;
    shared_->records += b->count;
    shared_->bytes += b->used;
    if (tsfn_.NonBlockingCall(new Delivery{shared_, b}) != napi_ok) shared_->Release(b);
  }

  void ReaderLoop() {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {};
    ev.events = EPOLLIN;
    ev.data.u32 = 0;
    epoll_ctl(ep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb_), &ev);
    ev.data.u32 = 1;
    epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd_, &ev);
    using clock = std::chrono::steady_clock;
    clock::time_point first_record;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(shared_->mu);
        if (shared_->stopping) break;
      }
      if (current_ == nullptr) {
        current_ = shared_->Acquire(!drop_when_behind_);
        if (current_ == nullptr && !drop_when_behind_) break;  // stopping
      }
      uint32_t before = current_ ? current_->count : 0;
      int n = ring_buffer__consume(rb_);
      bool full = n == kBatchFull;
      if (current_ && before == 0 && current_->count > 0) first_record = clock::now();
      if (full) {
        Deliver();
        continue;
      }
      // The probe wakes us only past pg_wakeup_bytes, so poll at the flush interval too.
      int wait_ms = static_cast<int>(flush_ms_ > 0 ? flush_ms_ : 1);
      if (current_ && current_->count > 0) {
        auto age = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - first_record).count();
        if (age >= flush_ms_) {
          Deliver();
          continue;
        }
        wait_ms = static_cast<int>(flush_ms_ - age);
      } else if (current_ == nullptr) {
        wait_ms = 10;  // drop mode, all batches busy: retry soon
      }
      struct epoll_event got[2];
      int k = epoll_wait(ep, got, 2, wait_ms);
      for (int i = 0; i < k; i++)
        if (got[i].data.u32 == 1) {
          close(ep);
          return;
        }
    }
    close(ep);
  }

  // start(onBatch(buffer, count))
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!skel_) throw Napi::Error::New(env, "probe is closed");
    if (reader_.joinable()) throw Napi::Error::New(env, "probe already started");
    tsfn_ = Tsfn::New(env, info[0].As<Napi::Function>(), "peregrine-probe", 0, 1);
    started_ = true;
    reader_ = std::thread([this] { ReaderLoop(); });
    return env.Undefined();
  }

  Napi::Value SetSyscalls(const Napi::CallbackInfo& info) {
    if (!skel_) throw Napi::Error::New(info.Env(), "probe is closed");
    ApplySyscallTable(info.Env(), info[0].As<Napi::Uint8Array>());
    return info.Env().Undefined();
  }

  Napi::Value SetSchedMask(const Napi::CallbackInfo& info) {
    if (!skel_) throw Napi::Error::New(info.Env(), "probe is closed");
    skel_->bss->pg_sched_mask = info[0].As<Napi::Number>().Uint32Value();
    return info.Env().Undefined();
  }

  static void ClearMap(int fd, size_t key_size) {
    std::vector<uint8_t> key(key_size), next(key_size);
    while (bpf_map_get_next_key(fd, nullptr, next.data()) == 0) {
      if (bpf_map_delete_elem(fd, next.data()) != 0) break;
    }
  }

  // setFilters({ pids: number[], comms: string[], prefixes: Array<{ syscall: number, prefix: string }> })
  Napi::Value SetFilters(const Napi::CallbackInfo& info) {
    if (!skel_) throw Napi::Error::New(info.Env(), "probe is closed");
    ApplyFilters(info.Env(), info[0].As<Napi::Object>());
    return info.Env().Undefined();
  }

  void ApplyFilters(Napi::Env env, Napi::Object f) {
    Napi::Array pids = f.Get("pids").As<Napi::Array>();
    Napi::Array comms = f.Get("comms").As<Napi::Array>();
    Napi::Array prefixes = f.Get("prefixes").As<Napi::Array>();
    // Counts go to zero first so the probe never consults a half-written map.
    skel_->bss->pg_self_tgid = 0;
    skel_->bss->pg_npids = 0;
    skel_->bss->pg_ncomms = 0;
    skel_->bss->pg_nprefixes = 0;
    int pfd = bpf_map__fd(skel_->maps.pg_excluded_pids);
    int cfd = bpf_map__fd(skel_->maps.pg_excluded_comms);
    int xfd = bpf_map__fd(skel_->maps.pg_excluded_prefixes);
    ClearMap(pfd, sizeof(uint32_t));
    ClearMap(cfd, 16);
    ClearMap(xfd, sizeof(struct pg_prefix_key));
    uint8_t one = 1;
    for (uint32_t i = 0; i < pids.Length(); i++) {
      uint32_t pid = pids.Get(i).As<Napi::Number>().Uint32Value();
      if (bpf_map_update_elem(pfd, &pid, &one, BPF_ANY) != 0)
        throw Napi::Error::New(env, LibbpfError("excluding a pid failed", -errno));
    }
    for (uint32_t i = 0; i < comms.Length(); i++) {
      char key[16] = {0};
      std::string c = comms.Get(i).As<Napi::String>().Utf8Value();
      std::memcpy(key, c.data(), std::min<size_t>(c.size(), 15));
      if (bpf_map_update_elem(cfd, key, &one, BPF_ANY) != 0)
        throw Napi::Error::New(env, LibbpfError("excluding a comm failed", -errno));
    }
    for (uint32_t i = 0; i < prefixes.Length(); i++) {
      Napi::Object p = prefixes.Get(i).As<Napi::Object>();
      uint32_t sc = p.Get("syscall").As<Napi::Number>().Uint32Value();
      std::string prefix = p.Get("prefix").As<Napi::String>().Utf8Value();
      if (prefix.size() > PG_PREFIX_MAX)
        throw Napi::Error::New(env, "path prefix longer than " + std::to_string(PG_PREFIX_MAX) + " bytes: " + prefix);
      struct pg_prefix_key key;
      std::memset(&key, 0, sizeof(key));
      key.data[0] = static_cast<uint8_t>(sc >> 8);
      key.data[1] = static_cast<uint8_t>(sc & 0xff);
      std::memcpy(key.data + 2, prefix.data(), prefix.size());
      key.prefixlen = static_cast<uint32_t>((2 + prefix.size()) * 8);
      if (bpf_map_update_elem(xfd, &key, &one, BPF_ANY) != 0)
        throw Napi::Error::New(env, LibbpfError("adding a path prefix failed", -errno));
    }
    skel_->bss->pg_self_tgid = f.Get("self").As<Napi::Number>().Uint32Value();
    skel_->bss->pg_npids = pids.Length();
    skel_->bss->pg_ncomms = comms.Length();
    skel_->bss->pg_nprefixes = prefixes.Length();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    Napi::Object user = Napi::Object::New(env);
    user.Set("batches", Napi::Number::New(env, static_cast<double>(shared_->batches.load())));
    user.Set("records", Napi::Number::New(env, static_cast<double>(shared_->records.load())));
    user.Set("bytes", Napi::Number::New(env, static_cast<double>(shared_->bytes.load())));
    user.Set("drops", Napi::Number::New(env, static_cast<double>(shared_->user_drops.load())));
    user.Set("oversize", Napi::Number::New(env, static_cast<double>(shared_->oversize.load())));
    out.Set("user", user);
    if (!skel_) return out;
    int ncpu = libbpf_num_possible_cpus();
    std::vector<struct pg_counters> per(ncpu);
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.pg_counters), &zero, per.data()) != 0)
      throw Napi::Error::New(env, LibbpfError("reading kernel counters failed", -errno));
    Napi::Array cpus = Napi::Array::New(env, ncpu);
    struct pg_counters sum = {};
    for (int i = 0; i < ncpu; i++) {
      const struct pg_counters& c = per[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("seen", Napi::Number::New(env, static_cast<double>(c.n_seen)));
      o.Set("events", Napi::Number::New(env, static_cast<double>(c.n_evts)));
      o.Set("dropsBuffer", Napi::Number::New(env, static_cast<double>(c.n_drops_buffer)));
      cpus.Set(i, o);
      sum.n_seen += c.n_seen;
      sum.n_evts += c.n_evts;
      sum.n_drops_buffer += c.n_drops_buffer;
      sum.n_filtered_pid += c.n_filtered_pid;
      sum.n_filtered_comm += c.n_filtered_comm;
      sum.n_filtered_path += c.n_filtered_path;
    }
    Napi::Object k = Napi::Object::New(env);
    k.Set("seen", Napi::Number::New(env, static_cast<double>(sum.n_seen)));
    k.Set("events", Napi::Number::New(env, static_cast<double>(sum.n_evts)));
    k.Set("dropsBuffer", Napi::Number::New(env, static_cast<double>(sum.n_drops_buffer)));
    k.Set("filteredPid", Napi::Number::New(env, static_cast<double>(sum.n_filtered_pid)));
    k.Set("filteredComm", Napi::Number::New(env, static_cast<double>(sum.n_filtered_comm)));
    k.Set("filteredPath", Napi::Number::New(env, static_cast<double>(sum.n_filtered_path)));
    k.Set("perCpu", cpus);
    // Records written per syscall id, summed over CPUs (index = enum pg_syscall).
    Napi::Array by = Napi::Array::New(env, PG_SC_COUNT);
    for (uint32_t id = 0; id < PG_SC_COUNT; id++) {
      uint64_t total = 0;
      for (int i = 0; i < ncpu; i++) total += per[i].n_by_syscall[id];
      by.Set(id, Napi::Number::New(env, static_cast<double>(total)));
    }
    k.Set("bySyscallId", by);
    out.Set("kernel", k);
    return out;
  }

  Napi::Value ProgramIds(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    Napi::Array progs = Napi::Array::New(env);
    Napi::Array maps = Napi::Array::New(env);
    Napi::Array links = Napi::Array::New(env);
    if (!skel_) {
      out.Set("programs", progs);
      out.Set("maps", maps);
      out.Set("links", links);
      return out;
    }
    uint32_t i = 0;
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, skel_->obj) {
      struct bpf_prog_info pi = {};
      uint32_t len = sizeof(pi);
      if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &pi, &len) == 0) progs.Set(i++, Napi::Number::New(env, pi.id));
    }
    i = 0;
    struct bpf_map* map;
    bpf_object__for_each_map(map, skel_->obj) {
      struct bpf_map_info mi = {};
      uint32_t len = sizeof(mi);
      if (bpf_obj_get_info_by_fd(bpf_map__fd(map), &mi, &len) == 0) maps.Set(i++, Napi::Number::New(env, mi.id));
    }
    i = 0;
    struct bpf_link* all[] = {skel_->links.pg_sys_exit, skel_->links.pg_sched_fork, skel_->links.pg_sched_exit,
                              skel_->links.pg_sched_exec};
    for (struct bpf_link* l : all) {
      if (!l) continue;
      struct bpf_link_info li = {};
      uint32_t len = sizeof(li);
      if (bpf_obj_get_info_by_fd(bpf_link__fd(l), &li, &len) == 0) links.Set(i++, Napi::Number::New(env, li.id));
    }
    out.Set("programs", progs);
    out.Set("maps", maps);
    out.Set("links", links);
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Teardown();
    return info.Env().Undefined();
  }

  void Teardown() {
    if (shared_) {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->stopping = true;
      shared_->closed = true;
    }
    if (shared_) shared_->cv.notify_all();
    if (stop_fd_ >= 0) {
      uint64_t one = 1;
      ssize_t w = write(stop_fd_, &one, sizeof(one));
      (void)w;
    }
    if (reader_.joinable()) reader_.join();
    if (current_) {
      shared_->Release(current_);
      current_ = nullptr;
    }
    if (started_) {
      tsfn_.Release();
      started_ = false;
    }
    if (rb_) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
    }
    if (skel_) {
      pg_probe__destroy(skel_);  // detaches every link, closes programs and maps
      skel_ = nullptr;
    }
    if (stop_fd_ >= 0) {
      close(stop_fd_);
      stop_fd_ = -1;
    }
    if (shared_) shared_->FreeIdle();
  }

  struct pg_probe* skel_ = nullptr;
  struct ring_buffer* rb_ = nullptr;
  std::shared_ptr<Shared> shared_;
  Batch* current_ = nullptr;  // reader thread only
  std::thread reader_;
  Tsfn tsfn_;
  bool started_ = false;
  int stop_fd_ = -1;
  uint32_t flush_ms_ = 2;
  bool drop_when_behind_ = false;
};

// [CLOCK_REALTIME, CLOCK_BOOTTIME] read back to back, in ns: lets captures map probe
// timestamps (boot time) to wall-clock time.
Napi::Value Clocks(const Napi::CallbackInfo& info) {
  struct timespec rt, bt;
  clock_gettime(CLOCK_BOOTTIME, &bt);
  clock_gettime(CLOCK_REALTIME, &rt);
  Napi::Array out = Napi::Array::New(info.Env(), 2);
  out.Set(uint32_t(0), Napi::BigInt::New(info.Env(), static_cast<uint64_t>(static_cast<uint64_t>(rt.tv_sec) * 1000000000ull + rt.tv_nsec)));
  out.Set(uint32_t(1), Napi::BigInt::New(info.Env(), static_cast<uint64_t>(static_cast<uint64_t>(bt.tv_sec) * 1000000000ull + bt.tv_nsec)));
  return out;
}

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("clocks", Napi::Function::New(env, Clocks));
  exports.Set("Probe", Probe::Init(env));
  exports.Set("layoutVersion", Napi::Number::New(env, PG_EVENT_LAYOUT_VERSION));
  exports.Set("headerSize", Napi::Number::New(env, sizeof(struct pg_event_header)));
  exports.Set("descSize", Napi::Number::New(env, sizeof(struct pg_sc_desc)));
  exports.Set("libbpfVersion", Napi::String::New(env, libbpf_version_string()));
  return exports;
}

}  // namespace

NODE_API_MODULE(peregrine_probe, InitAll)
