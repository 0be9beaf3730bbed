/*
 * A fake libnvidia-ml.so.1 for tests: exports the NVML symbols the real nvidia-ml-py
 * binding (module pynvml) looks up, with the C ABI of nvml.h, and serves values from a
 * scenario file named by the environment variable FAKE_NVML_CONFIG. The file is re-read
 * whenever it changes (inode, size or mtime), so a test rewrites it to inject faults while
 * the exporter runs.
 *
 * Scenario file: "key=value" lines. Global keys: driver, nvml_version, cuda, init_error
 * (nvmlInit returns this code), all_error (every device call and GetCount return this
 * code), count (visible devices; default the number of [gpu] sections), xid=<gpu>:<code>
 * (events, delivered once each in file order). "[gpu]" starts a GPU; "[mig]" starts a MIG
 * device of the last GPU. Per-GPU keys: see parse_gpu(). unsupported=<sym>,<sym>,field:<id>
 * makes those calls (or field ids) answer NVML_ERROR_NOT_SUPPORTED; lost=1 makes every call
 * on the GPU answer NVML_ERROR_GPU_IS_LOST; hang_ms=N makes nvmlDeviceGetPowerUsage sleep.
 *
 * Compiled with -DFAKE_OLD_DRIVER it omits the symbols a pre-510 driver lacks
 * (nvmlDeviceGetMemoryInfo_v2, nvmlDeviceGetTemperatureV, ..._ComputeRunningProcesses_v3,
 * nvmlDeviceGetCurrentClocksEventReasons, nvmlDeviceGetSupportedClocksEventReasons).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef int nvmlReturn_t;
enum {
    OK = 0, E_UNINIT = 1, E_INVALID = 2, E_NOT_SUPPORTED = 3, E_NOT_FOUND = 6,
    E_INSUFFICIENT_SIZE = 7, E_TIMEOUT = 10, E_GPU_LOST = 15, E_VERSION = 25, E_UNKNOWN = 999
};

#define MAX_GPUS 16
#define MAX_MIG 8
#define MAX_PROCS 16
#define MAX_EVENTS 256
#define MAX_GPM 16
#define GPM_ID_LIMIT 64

typedef struct { unsigned int pid; unsigned long long mem; } proc_t;

typedef struct {
    int gi, ci, profile_id;
    char uuid[96];
    unsigned long long mem_total, mem_used;
    int nprocs; proc_t procs[MAX_PROCS];
} mig_t;

typedef struct {
    char name[96], uuid[96], serial[32], bus_id[32], vbios[32];
    unsigned int minor, brand, arch; int cc_major, cc_minor;
    unsigned long long mem_total, mem_used, mem_reserved;
    unsigned int util_gpu, util_mem, enc, dec, temp, mem_temp, fan, power_mw, power_limit_mw;
    unsigned long long energy_mj;
    unsigned int clk[4], pstate;
    unsigned long long clock_events, supported_events;
    unsigned long long viol[8];
    unsigned long long ecc[4]; /* sbe_vol, dbe_vol, sbe_agg, dbe_agg */
    unsigned int retired_sbe, retired_dbe, retired_pending;
    unsigned int remap[4];
    unsigned int recovery, pcie_replay, pcie_gen, pcie_width, pcie_max_gen, pcie_max_width, pcie_tx_kb, pcie_rx_kb;
    unsigned int nvlinks; unsigned long long nvlink_err[4], nvlink_tx_kib, nvlink_rx_kib;
    unsigned int mig, mig_pending;
    int nmig; mig_t migs[MAX_MIG];
    int nprocs; proc_t procs[MAX_PROCS];
    char unsupported[512];
    int lost, hang_ms;
    unsigned int gpm_supported; int ngpm; unsigned int gpm_ids[MAX_GPM]; double gpm_pct[MAX_GPM];
} gpu_t;

typedef struct { int gpu; unsigned long long xid; } event_t;

typedef struct {
    char driver[64], nvml_version[64];
    int cuda, init_error, all_error, count, ngpus, nevents;
    gpu_t gpus[MAX_GPUS];
    event_t events[MAX_EVENTS];
} state_t;

/* Handles stay valid across reloads: they name a slot, the data lives in the state. */
typedef struct nvmlDevice_st { int gpu; int mig; } handle_t;
static handle_t gpu_handles[MAX_GPUS];
static handle_t mig_handles[MAX_GPUS][MAX_MIG];
typedef handle_t *nvmlDevice_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static state_t *volatile current;      /* swapped, never freed: readers keep a consistent snapshot */
static char loaded_path[512];
static struct stat loaded_stat;
static int init_refcount;
static int delivered;                  /* events of this scenario file handed out so far, across reloads */

static void set_str(char *dst, size_t n, const char *v) { snprintf(dst, n, "%s", v); }

static void gpu_defaults(gpu_t *g, int i) {
    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof g->name, "NVIDIA H100 80GB HBM3");
    snprintf(g->uuid, sizeof g->uuid, "GPU-00000000-0000-0000-0000-%012d", i);
    snprintf(g->serial, sizeof g->serial, "165000000%04d", i);
    snprintf(g->bus_id, sizeof g->bus_id, "00000000:%02X:00.0", 0x18 + i);
    snprintf(g->vbios, sizeof g->vbios, "96.00.99.00.01");
    g->minor = i; g->brand = 14; g->arch = 9; g->cc_major = 9; g->cc_minor = 0;
    g->supported_events = 0x1ff;
    g->gpm_supported = 1;
}

static void parse_procs(const char *v, proc_t *procs, int *n) {
    *n = 0;
    while (*v && *n < MAX_PROCS) {
        unsigned int pid; unsigned long long mem; int used = 0;
        if (sscanf(v, "%u:%llu%n", &pid, &mem, &used) < 2) break;
        procs[*n].pid = pid; procs[*n].mem = mem; (*n)++;
        v += used;
        if (*v == ',') v++;
    }
}

static void parse_gpu(gpu_t *g, const char *k, const char *v) {
    unsigned long long u = strtoull(v, NULL, 10);
#define S(key, field) if (!strcmp(k, key)) { set_str(g->field, sizeof g->field, v); return; }
#define U(key, field) if (!strcmp(k, key)) { g->field = u; return; }
    S("name", name) S("uuid", uuid) S("serial", serial) S("bus_id", bus_id) S("vbios", vbios)
    U("minor", minor) U("brand", brand) U("arch", arch)
    U("mem_total", mem_total) U("mem_used", mem_used) U("mem_reserved", mem_reserved)
    U("util_gpu", util_gpu) U("util_mem", util_mem) U("enc", enc) U("dec", dec)
    U("temp", temp) U("mem_temp", mem_temp) U("fan", fan) U("power_mw", power_mw)
    U("power_limit_mw", power_limit_mw) U("energy_mj", energy_mj)
    U("clk_graphics", clk[0]) U("clk_sm", clk[1]) U("clk_mem", clk[2]) U("clk_video", clk[3])
    U("pstate", pstate) U("clock_events", clock_events) U("supported_events", supported_events)
    U("viol_power", viol[0]) U("viol_sync_boost", viol[1]) U("viol_board", viol[2]) U("viol_low_util", viol[3])
    U("viol_reliability", viol[4]) U("viol_sw_thermal", viol[5]) U("viol_hw_thermal", viol[6])
    U("viol_power_brake", viol[7])
    U("ecc_sbe_vol", ecc[0]) U("ecc_dbe_vol", ecc[1]) U("ecc_sbe_agg", ecc[2]) U("ecc_dbe_agg", ecc[3])
    U("retired_sbe", retired_sbe) U("retired_dbe", retired_dbe) U("retired_pending", retired_pending)
    U("remap_corr", remap[0]) U("remap_unc", remap[1]) U("remap_pending", remap[2]) U("remap_failure", remap[3])
    U("recovery", recovery) U("pcie_replay", pcie_replay) U("pcie_gen", pcie_gen) U("pcie_width", pcie_width)
    U("pcie_max_gen", pcie_max_gen) U("pcie_max_width", pcie_max_width)
    U("pcie_tx_kb", pcie_tx_kb) U("pcie_rx_kb", pcie_rx_kb)
    U("nvlinks", nvlinks) U("nvlink_tx_kib", nvlink_tx_kib) U("nvlink_rx_kib", nvlink_rx_kib)
    U("mig", mig) U("mig_pending", mig_pending) U("lost", lost) U("hang_ms", hang_ms)
    U("gpm_supported", gpm_supported)
#undef S
#undef U
    if (!strcmp(k, "cc")) { sscanf(v, "%d.%d", &g->cc_major, &g->cc_minor); return; }
    if (!strcmp(k, "nvlink_err")) {
        sscanf(v, "%llu,%llu,%llu,%llu", &g->nvlink_err[0], &g->nvlink_err[1], &g->nvlink_err[2], &g->nvlink_err[3]);
        return;
    }
    if (!strcmp(k, "procs")) { parse_procs(v, g->procs, &g->nprocs); return; }
    if (!strcmp(k, "gpm")) {  /* gpm=<metric id>:<percent>,... : activity while the scenario holds */
        g->ngpm = 0;
        while (*v && g->ngpm < MAX_GPM) {
            unsigned int id; double pct; int used = 0;
            if (sscanf(v, "%u:%lf%n", &id, &pct, &used) < 2 || id >= GPM_ID_LIMIT) break;
            g->gpm_ids[g->ngpm] = id; g->gpm_pct[g->ngpm] = pct; g->ngpm++;
            v += used;
            if (*v == ',') v++;
        }
        return;
    }
    if (!strcmp(k, "unsupported")) { snprintf(g->unsupported, sizeof g->unsupported, ",%s,", v); return; }
}

static void parse_mig(mig_t *m, const char *k, const char *v) {
    unsigned long long u = strtoull(v, NULL, 10);
    if (!strcmp(k, "gi")) m->gi = (int)u;
    else if (!strcmp(k, "ci")) m->ci = (int)u;
    else if (!strcmp(k, "profile_id")) m->profile_id = (int)u;
    else if (!strcmp(k, "uuid")) set_str(m->uuid, sizeof m->uuid, v);
    else if (!strcmp(k, "mem_total")) m->mem_total = u;
    else if (!strcmp(k, "mem_used")) m->mem_used = u;
    else if (!strcmp(k, "procs")) parse_procs(v, m->procs, &m->nprocs);
}

static state_t *parse_file(const char *path) {
    state_t *s = calloc(1, sizeof(state_t));
    snprintf(s->driver, sizeof s->driver, "550.54.15");
    snprintf(s->nvml_version, sizeof s->nvml_version, "12.550.54.15");
    s->cuda = 12040; s->count = -1;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return s;
    char line[1024];
    int section = 0; /* 0 global, 1 gpu, 2 mig */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        if (!strcmp(line, "[gpu]")) {
            if (s->ngpus < MAX_GPUS) { gpu_defaults(&s->gpus[s->ngpus], s->ngpus); s->ngpus++; }
            section = 1; continue;
        }
        if (!strcmp(line, "[mig]")) {
            gpu_t *g = s->ngpus ? &s->gpus[s->ngpus - 1] : NULL;
            if (g && g->nmig < MAX_MIG) { memset(&g->migs[g->nmig], 0, sizeof(mig_t)); g->nmig++; }
            section = 2; continue;
        }
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        const char *k = line, *v = eq + 1;
        if (section == 0) {
            if (!strcmp(k, "driver")) set_str(s->driver, sizeof s->driver, v);
            else if (!strcmp(k, "nvml_version")) set_str(s->nvml_version, sizeof s->nvml_version, v);
            else if (!strcmp(k, "cuda")) s->cuda = atoi(v);
            else if (!strcmp(k, "init_error")) s->init_error = atoi(v);
            else if (!strcmp(k, "all_error")) s->all_error = atoi(v);
            else if (!strcmp(k, "count")) s->count = atoi(v);
            else if (!strcmp(k, "xid") && s->nevents < MAX_EVENTS) {
                int gi = 0; unsigned long long x = 0;
                if (sscanf(v, "%d:%llu", &gi, &x) == 2) { s->events[s->nevents].gpu = gi; s->events[s->nevents].xid = x; s->nevents++; }
            }
        } else if (section == 1) {
            parse_gpu(&s->gpus[s->ngpus - 1], k, v);
        } else {
            gpu_t *g = &s->gpus[s->ngpus - 1];
            parse_mig(&g->migs[g->nmig - 1], k, v);
        }
    }
    fclose(f);
    if (s->count < 0 || s->count > s->ngpus) s->count = s->ngpus;
    return s;
}

/* The current scenario, re-read when the file named by FAKE_NVML_CONFIG changes. */
static state_t *snap(void) {
    const char *path = getenv("FAKE_NVML_CONFIG");
    struct stat st;
    int have = path && stat(path, &st) == 0;
    pthread_mutex_lock(&lock);
    int changed = current == NULL || strcmp(loaded_path, path ? path : "") != 0 ||
        (have && (st.st_ino != loaded_stat.st_ino || st.st_size != loaded_stat.st_size ||
                  st.st_mtim.tv_sec != loaded_stat.st_mtim.tv_sec ||
                  st.st_mtim.tv_nsec != loaded_stat.st_mtim.tv_nsec));
    if (changed) {
        if (strcmp(loaded_path, path ? path : "") != 0) delivered = 0;  /* another scenario file: events anew */
        current = parse_file(have ? path : NULL);
        snprintf(loaded_path, sizeof loaded_path, "%s", path ? path : "");
        if (have) loaded_stat = st; else memset(&loaded_stat, 0, sizeof loaded_stat);
    }
    state_t *s = current;
    pthread_mutex_unlock(&lock);
    return s;
}

static int unsupported(const gpu_t *g, const char *sym) {
    char key[128];
    snprintf(key, sizeof key, ",%s,", sym);
    return strstr(g->unsupported, key) != NULL;
}

/* Common entry of every device call: the GPU behind a handle, or an error code. */
static nvmlReturn_t enter(nvmlDevice_t h, const char *sym, state_t **ps, gpu_t **pg) {
    state_t *s = snap();
    *ps = s;
    if (init_refcount <= 0) return E_UNINIT;
    if (s->all_error) return s->all_error;
    if (!h || h->gpu < 0 || h->gpu >= s->ngpus) return E_INVALID;
    gpu_t *g = &s->gpus[h->gpu];
    *pg = g;
    if (g->lost) return E_GPU_LOST;
    if (unsupported(g, sym)) return E_NOT_SUPPORTED;
    return OK;
}

#define ENTER(h)                                                   \
    state_t *s; gpu_t *g = NULL;                                   \
    nvmlReturn_t rc_ = enter((h), __func__, &s, &g);               \
    (void)s;                                                       \
    if (rc_ != OK) return rc_;

#define NULLCHK(p) if (!(p)) return E_INVALID;

/* ---- init / system ---------------------------------------------------------------- */
EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    state_t *s = snap();
    if (s->init_error) return s->init_error;
    pthread_mutex_lock(&lock); init_refcount++; pthread_mutex_unlock(&lock);
    return OK;
}
EXPORT nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
EXPORT nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }

EXPORT nvmlReturn_t nvmlShutdown(void) {
    pthread_mutex_lock(&lock);
    nvmlReturn_t rc = init_refcount > 0 ? OK : E_UNINIT;
    if (init_refcount > 0) init_refcount--;
    pthread_mutex_unlock(&lock);
    return rc;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t r) {
    switch (r) {
    case OK: return "Success";
    case E_NOT_SUPPORTED: return "Not Supported";
    case E_GPU_LOST: return "GPU is lost";
    default: return "Fake NVML error";
    }
}

static nvmlReturn_t copy_str(char *dst, unsigned int len, const char *src) {
    NULLCHK(dst);
    if (strlen(src) + 1 > len) return E_INSUFFICIENT_SIZE;
    memcpy(dst, src, strlen(src) + 1);
    return OK;
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned int len) {
    state_t *s = snap();
    if (init_refcount <= 0) return E_UNINIT;
    return copy_str(v, len, s->driver);
}
EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *v, unsigned int len) {
    state_t *s = snap();
    return copy_str(v, len, s->nvml_version);
}
EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) { NULLCHK(v); *v = snap()->cuda; return OK; }
EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { NULLCHK(v); *v = snap()->cuda; return OK; }

EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char *name, unsigned int len) {
    char path[64], buf[256] = {0};
    snprintf(path, sizeof path, "/proc/%u/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f) return E_NOT_FOUND;
    if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return copy_str(name, len, buf);
}

/* ---- enumeration -------------------------------------------------------------------- */
EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    NULLCHK(count);
    state_t *s = snap();
    if (init_refcount <= 0) return E_UNINIT;
    if (s->all_error) return s->all_error;
    *count = (unsigned int)s->count;
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *dev) {
    NULLCHK(dev);
    state_t *s = snap();
    if (init_refcount <= 0) return E_UNINIT;
    if (s->all_error) return s->all_error;
    if (index >= (unsigned int)s->count) return E_INVALID;
    if (s->gpus[index].lost) return E_GPU_LOST;
    gpu_handles[index].gpu = (int)index; gpu_handles[index].mig = -1;
    *dev = &gpu_handles[index];
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *dev) {
    NULLCHK(dev); NULLCHK(uuid);
    state_t *s = snap();
    if (init_refcount <= 0) return E_UNINIT;
    for (int i = 0; i < s->count; i++) {
        if (!strcmp(s->gpus[i].uuid, uuid)) return nvmlDeviceGetHandleByIndex_v2((unsigned)i, dev);
        for (int m = 0; m < s->gpus[i].nmig; m++) {
            if (!strcmp(s->gpus[i].migs[m].uuid, uuid)) {
                mig_handles[i][m].gpu = i; mig_handles[i][m].mig = m;
                *dev = &mig_handles[i][m];
                return OK;
            }
        }
    }
    return E_NOT_FOUND;
}

EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = (unsigned)h->gpu; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->minor; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t h, char *v, unsigned int len) { ENTER(h) return copy_str(v, len, g->name); }
EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t h, char *v, unsigned int len) {
    ENTER(h)
    if (h->mig >= 0) return copy_str(v, len, g->migs[h->mig].uuid);
    return copy_str(v, len, g->uuid);
}
EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t h, char *v, unsigned int len) { ENTER(h) return copy_str(v, len, g->serial); }
EXPORT nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t h, char *v, unsigned int len) { ENTER(h) return copy_str(v, len, g->vbios); }
EXPORT nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t h, int *v) { ENTER(h) NULLCHK(v); *v = (int)g->brand; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->arch; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t h, int *major, int *minor) {
    ENTER(h) NULLCHK(major); NULLCHK(minor); *major = g->cc_major; *minor = g->cc_minor; return OK;
}

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t h, nvmlPciInfo_t *p) {
    ENTER(h) NULLCHK(p);
    memset(p, 0, sizeof *p);
    snprintf(p->busId, sizeof p->busId, "%s", g->bus_id);
    snprintf(p->busIdLegacy, sizeof p->busIdLegacy, "%.15s", g->bus_id + 4);
    sscanf(g->bus_id, "%x:%x:%x", &p->domain, &p->bus, &p->device);
    p->pciDeviceId = 0x233010de;
    return OK;
}

/* ---- memory, utilisation, thermals, power ------------------------------------------- */
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;

static void mem_of(nvmlDevice_t h, gpu_t *g, unsigned long long *total, unsigned long long *used,
                   unsigned long long *reserved) {
    if (h->mig >= 0) { *total = g->migs[h->mig].mem_total; *used = g->migs[h->mig].mem_used; *reserved = 0; return; }
    *total = g->mem_total; *used = g->mem_used; *reserved = g->mem_reserved;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t h, nvmlMemory_t *m) {
    ENTER(h) NULLCHK(m);
    unsigned long long t, u, r; mem_of(h, g, &t, &u, &r);
    m->total = t; m->used = u + r; m->free = t - u - r;   /* v1: used includes reserved */
    return OK;
}
#ifndef FAKE_OLD_DRIVER
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t h, nvmlMemory_v2_t *m) {
    ENTER(h) NULLCHK(m);
    if (m->version != 0x02000028) return E_VERSION;
    unsigned long long t, u, r; mem_of(h, g, &t, &u, &r);
    m->total = t; m->reserved = r; m->used = u; m->free = t - u - r;
    return OK;
}
#endif

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t h, nvmlUtilization_t *u) {
    ENTER(h) NULLCHK(u); u->gpu = g->util_gpu; u->memory = g->util_mem; return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t h, unsigned int *u, unsigned int *p) {
    ENTER(h) NULLCHK(u); NULLCHK(p); *u = g->enc; *p = 167000; return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t h, unsigned int *u, unsigned int *p) {
    ENTER(h) NULLCHK(u); NULLCHK(p); *u = g->dec; *p = 167000; return OK;
}

typedef struct { unsigned int version; int sensorType; int temperature; } nvmlTemperature_v1_t;
#ifndef FAKE_OLD_DRIVER
EXPORT nvmlReturn_t nvmlDeviceGetTemperatureV(nvmlDevice_t h, nvmlTemperature_v1_t *t) {
    ENTER(h) NULLCHK(t);
    if (t->version != 0x100000C) return E_VERSION;
    if (t->sensorType != 0) return E_INVALID;
    t->temperature = (int)g->temp;
    return OK;
}
#endif
EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t h, int sensor, unsigned int *t) {
    ENTER(h) NULLCHK(t);
    if (sensor != 0) return E_INVALID;
    *t = g->temp;
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->fan; return OK; }

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t h, unsigned int *v) {
    ENTER(h) NULLCHK(v);
    if (g->hang_ms > 0) usleep((useconds_t)g->hang_ms * 1000);
    *v = g->power_mw;
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->power_limit_mw; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->power_limit_mw; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t h, unsigned long long *v) { ENTER(h) NULLCHK(v); *v = g->energy_mj; return OK; }

EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t h, int type, unsigned int *v) {
    ENTER(h) NULLCHK(v);
    if (type < 0 || type > 3) return E_INVALID;
    *v = g->clk[type];
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t h, int type, unsigned int *v) {
    ENTER(h) NULLCHK(v);
    if (type < 0 || type > 3) return E_INVALID;
    *v = g->clk[type] * 2;
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t h, int *v) { ENTER(h) NULLCHK(v); *v = (int)g->pstate; return OK; }

#ifndef FAKE_OLD_DRIVER
EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t h, unsigned long long *v) { ENTER(h) NULLCHK(v); *v = g->clock_events; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(nvmlDevice_t h, unsigned long long *v) { ENTER(h) NULLCHK(v); *v = g->supported_events; return OK; }
#endif
EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t h, unsigned long long *v) { ENTER(h) NULLCHK(v); *v = g->clock_events; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksThrottleReasons(nvmlDevice_t h, unsigned long long *v) { ENTER(h) NULLCHK(v); *v = g->supported_events; return OK; }

/* ---- errors and health -------------------------------------------------------------- */
EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t h, int type, int counter, unsigned long long *v) {
    ENTER(h) NULLCHK(v);
    if (type < 0 || type > 1 || counter < 0 || counter > 1) return E_INVALID;
    *v = g->ecc[counter * 2 + type];
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t h, int cause, unsigned int *count, unsigned long long *addrs) {
    ENTER(h) NULLCHK(count);
    unsigned int n = cause == 0 ? g->retired_sbe : g->retired_dbe;
    if (!addrs || *count < n) { *count = n; return n ? E_INSUFFICIENT_SIZE : OK; }
    for (unsigned int i = 0; i < n; i++) addrs[i] = 0x1000ULL * (i + 1) + (unsigned long long)cause;
    *count = n;
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t h, int *v) { ENTER(h) NULLCHK(v); *v = (int)g->retired_pending; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t h, unsigned int *c, unsigned int *u, unsigned int *p, unsigned int *f) {
    ENTER(h) NULLCHK(c); NULLCHK(u); NULLCHK(p); NULLCHK(f);
    if (g->mig) return E_NOT_SUPPORTED;  /* not while MIG is enabled */
    *c = g->remap[0]; *u = g->remap[1]; *p = g->remap[2]; *f = g->remap[3];
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t h, int counter, unsigned int *v) {
    ENTER(h) NULLCHK(v);
    if (counter == 0) *v = g->pcie_tx_kb; else if (counter == 1) *v = g->pcie_rx_kb; else return E_INVALID;
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->pcie_replay; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->pcie_gen; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->pcie_width; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->pcie_max_gen; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = g->pcie_max_width; return OK; }

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t h, unsigned int link, unsigned int *active) {
    ENTER(h) NULLCHK(active);
    if (!g->nvlinks) return E_NOT_SUPPORTED;
    if (link >= g->nvlinks) return E_INVALID;
    *active = 1;
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetNvLinkErrorCounter(nvmlDevice_t h, unsigned int link, int counter, unsigned long long *v) {
    ENTER(h) NULLCHK(v);
    if (!g->nvlinks) return E_NOT_SUPPORTED;
    if (link >= g->nvlinks || counter < 0 || counter > 3) return E_INVALID;
    *v = g->nvlink_err[counter] + link;
    return OK;
}

/* ---- field values ------------------------------------------------------------------- */
typedef union { double dVal; unsigned int uiVal; unsigned long ulVal; unsigned long long ullVal;
                long long sllVal; int siVal; unsigned short usVal; } nvmlValue_t;
typedef struct {
    unsigned int fieldId, scopeId; long long timestamp, latencyUsec;
    int valueType; nvmlReturn_t nvmlReturn; nvmlValue_t value;
} nvmlFieldValue_t;

static int field_value(gpu_t *g, unsigned int id, unsigned int scope, int *type, unsigned long long *v) {
    *type = 3; /* unsigned long long */
    switch (id) {
    case 3: *v = g->ecc[0]; return 1;
    case 4: *v = g->ecc[1]; return 1;
    case 5: *v = g->ecc[2]; return 1;
    case 6: *v = g->ecc[3]; return 1;
    case 74: *v = g->viol[0]; return 1;
    case 76: *v = g->viol[1]; return 1;
    case 77: *v = g->viol[2]; return 1;
    case 78: *v = g->viol[3]; return 1;
    case 79: *v = g->viol[4]; return 1;
    case 269: *v = g->viol[5]; return 1;
    case 270: *v = g->viol[6]; return 1;
    case 271: *v = g->viol[7]; return 1;
    case 82: *type = 1; *v = g->mem_temp; return 1;
    case 83: *v = g->energy_mj; return 1;
    case 94: *type = 1; *v = g->pcie_replay; return 1;
    case 230: *type = 1; *v = g->recovery; return 1;
    case 138: case 139:
        if (!g->nvlinks || (scope != 0xFFFFFFFFu && scope >= g->nvlinks)) return 0;
        *v = (id == 138 ? g->nvlink_tx_kib : g->nvlink_rx_kib) * (scope == 0xFFFFFFFFu ? g->nvlinks : 1);
        return 1;
    default: return 0;
    }
}

EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t h, int count, nvmlFieldValue_t *values) {
    ENTER(h) NULLCHK(values);
    int any = 0;
    for (int i = 0; i < count; i++) {
        nvmlFieldValue_t *f = &values[i];
        char key[32];
        snprintf(key, sizeof key, "field:%u", f->fieldId);
        unsigned long long v = 0; int type = 3;
        struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts);
        f->timestamp = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        f->latencyUsec = 0;
        if (unsupported(g, key) || !field_value(g, f->fieldId, f->scopeId, &type, &v)) {
            f->nvmlReturn = E_NOT_SUPPORTED;
            continue;
        }
        f->nvmlReturn = OK; f->valueType = type; any = 1;
        if (type == 1) f->value.uiVal = (unsigned int)v; else f->value.ullVal = v;
    }
    (void)any;
    return OK;
}

/* ---- processes ---------------------------------------------------------------------- */
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; unsigned int gpuInstanceId, computeInstanceId; } nvmlProcessInfo_t;

static nvmlReturn_t procs_impl(nvmlDevice_t h, gpu_t *g, unsigned int *count, nvmlProcessInfo_t *out) {
    NULLCHK(count);
    const proc_t *p = g->procs; int n = g->nprocs, gi = 0xFFFFFFFF, ci = 0xFFFFFFFF;
    if (h->mig >= 0) { p = g->migs[h->mig].procs; n = g->migs[h->mig].nprocs; gi = g->migs[h->mig].gi; ci = g->migs[h->mig].ci; }
    if (!out || *count < (unsigned int)n) { *count = (unsigned int)n; return n ? E_INSUFFICIENT_SIZE : OK; }
    for (int i = 0; i < n; i++) {
        out[i].pid = p[i].pid; out[i].usedGpuMemory = p[i].mem;
        out[i].gpuInstanceId = (unsigned)gi; out[i].computeInstanceId = (unsigned)ci;
    }
    *count = (unsigned int)n;
    return OK;
}
#ifndef FAKE_OLD_DRIVER
EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t h, unsigned int *count, nvmlProcessInfo_t *out) {
    ENTER(h) return procs_impl(h, g, count, out);
}
#endif
EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t h, unsigned int *count, nvmlProcessInfo_t *out) {
    ENTER(h) return procs_impl(h, g, count, out);
}

/* ---- MIG ---------------------------------------------------------------------------- */
EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t h, unsigned int *cur, unsigned int *pending) {
    ENTER(h) NULLCHK(cur); NULLCHK(pending); *cur = g->mig; *pending = g->mig_pending; return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t h, unsigned int *v) {
    ENTER(h) NULLCHK(v); *v = g->mig ? 7 : 0; return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t h, unsigned int idx, nvmlDevice_t *out) {
    ENTER(h) NULLCHK(out);
    if (!g->mig) return E_NOT_SUPPORTED;
    if (idx >= 7) return E_INVALID;
    if (idx >= (unsigned int)g->nmig) return E_NOT_FOUND;
    mig_handles[h->gpu][idx].gpu = h->gpu; mig_handles[h->gpu][idx].mig = (int)idx;
    *out = &mig_handles[h->gpu][idx];
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t h, nvmlDevice_t *out) {
    ENTER(h) NULLCHK(out);
    if (h->mig < 0) return E_INVALID;
    *out = &gpu_handles[h->gpu];
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t h, unsigned int *v) { ENTER(h) NULLCHK(v); *v = h->mig >= 0; return OK; }
EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t h, unsigned int *v) {
    ENTER(h) NULLCHK(v); if (h->mig < 0) return E_INVALID; *v = (unsigned)g->migs[h->mig].gi; return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t h, unsigned int *v) {
    ENTER(h) NULLCHK(v); if (h->mig < 0) return E_INVALID; *v = (unsigned)g->migs[h->mig].ci; return OK;
}

/* ---- events ------------------------------------------------------------------------- */
typedef struct nvmlEventSet_st { unsigned int gpus; int live; } eventset_t;
typedef eventset_t *nvmlEventSet_t;
typedef struct {
    nvmlDevice_t device; unsigned long long eventType, eventData;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    NULLCHK(set);
    if (init_refcount <= 0) return E_UNINIT;
    eventset_t *e = calloc(1, sizeof *e);
    e->live = 1;
    *set = e;
    return OK;
}
EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t h, unsigned long long *v) {
    ENTER(h) NULLCHK(v); *v = 0x8 | 0x1 | 0x2; return OK;
}
EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t h, unsigned long long types, nvmlEventSet_t set) {
    ENTER(h) NULLCHK(set);
    if (types & 0x8) set->gpus |= 1u << h->gpu;
    return OK;
}
EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeout_ms) {
    NULLCHK(set); NULLCHK(data);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        state_t *s = snap();
        if (init_refcount <= 0 || !set->live) return E_UNINIT;
        pthread_mutex_lock(&lock);
        while (delivered < s->nevents && !(set->gpus & (1u << s->events[delivered].gpu))) delivered++;
        if (delivered < s->nevents) {
            event_t ev = s->events[delivered++];
            pthread_mutex_unlock(&lock);
            gpu_handles[ev.gpu].gpu = ev.gpu; gpu_handles[ev.gpu].mig = -1;
            memset(data, 0, sizeof *data);
            data->device = &gpu_handles[ev.gpu];
            data->eventType = 0x8;
            data->eventData = ev.xid;
            data->gpuInstanceId = 0xFFFFFFFF; data->computeInstanceId = 0xFFFFFFFF;
            return OK;
        }
        pthread_mutex_unlock(&lock);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms >= (long)timeout_ms) return E_TIMEOUT;
        usleep(5000);
    }
}
EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    NULLCHK(set);
    set->live = 0;  /* kept allocated: a waiter in another thread may still hold it */
    return OK;
}

/* ---- MIG GPU instances and their profiles -------------------------------------------- */
typedef struct nvmlGpuInstance_st { int gpu; int mig; } gi_handle_t;
typedef gi_handle_t *nvmlGpuInstance_t;
static gi_handle_t gi_handles[MAX_GPUS][MAX_MIG];
typedef struct { unsigned int start, size; } nvmlGpuInstancePlacement_t;
typedef struct { nvmlDevice_t device; unsigned int id, profileId; nvmlGpuInstancePlacement_t placement; } nvmlGpuInstanceInfo_t;
typedef struct {
    unsigned int version, id, isP2pSupported, sliceCount, instanceCount, multiprocessorCount, copyEngineCount,
        decoderCount, encoderCount, jpegCount, ofaCount;
    unsigned long long memorySizeMB;
    char name[96];
} nvmlGpuInstanceProfileInfo_v2_t;
#define GI_PROFILE_INFO_V2 (0x02000000u | (unsigned)sizeof(nvmlGpuInstanceProfileInfo_v2_t))

/* The GPU instance profiles of an H100 80GB: index (NVML_GPU_INSTANCE_PROFILE_*), id, slices, MiB, name. */
static const struct { int index, id, slices, sms; unsigned long long mib; const char *name; } gi_profiles[] = {
    {0x0, 19, 1, 16, 9856, "MIG 1g.10gb"}, {0x1, 14, 2, 32, 20096, "MIG 2g.20gb"},
    {0x2, 9, 3, 60, 40192, "MIG 3g.40gb"}, {0x3, 5, 4, 64, 40192, "MIG 4g.40gb"},
    {0x4, 0, 7, 132, 80384, "MIG 7g.80gb"}, {0x7, 20, 1, 16, 9856, "MIG 1g.10gb+me"},
    {0x9, 15, 1, 26, 20096, "MIG 1g.20gb"},
};
#define N_GI_PROFILES ((int)(sizeof gi_profiles / sizeof gi_profiles[0]))

static nvmlReturn_t fill_profile(int k, nvmlGpuInstanceProfileInfo_v2_t *info) {
    if (k < 0) return E_NOT_SUPPORTED;
    if (info->version != GI_PROFILE_INFO_V2) return E_VERSION;
    memset((char *)info + sizeof info->version, 0, sizeof *info - sizeof info->version);
    info->id = (unsigned)gi_profiles[k].id; info->sliceCount = (unsigned)gi_profiles[k].slices;
    info->instanceCount = 7u / (unsigned)gi_profiles[k].slices; info->multiprocessorCount = (unsigned)gi_profiles[k].sms;
    info->memorySizeMB = gi_profiles[k].mib;
    snprintf(info->name, sizeof info->name, "%s", gi_profiles[k].name);
    return OK;
}

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t h, unsigned int profile,
                                                         nvmlGpuInstanceProfileInfo_v2_t *info) {
    ENTER(h) NULLCHK(info);
    int k = -1;
    for (int i = 0; i < N_GI_PROFILES; i++) if (gi_profiles[i].index == (int)profile) k = i;
    if (profile >= 0x12) return E_INVALID;
    return fill_profile(k, info);
}
#ifndef FAKE_OLD_DRIVER
EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceProfileInfoByIdV(nvmlDevice_t h, unsigned int id,
                                                             nvmlGpuInstanceProfileInfo_v2_t *info) {
    ENTER(h) NULLCHK(info);
    int k = -1;
    for (int i = 0; i < N_GI_PROFILES; i++) if (gi_profiles[i].id == (int)id) k = i;
    return k < 0 ? E_INVALID : fill_profile(k, info);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t h, unsigned int id, nvmlGpuInstance_t *out) {
    ENTER(h) NULLCHK(out);
    if (!g->mig) return E_NOT_SUPPORTED;
    if (h->mig >= 0) return E_INVALID;  /* a parent (physical GPU) handle is needed */
    for (int m = 0; m < g->nmig; m++) {
        if (g->migs[m].gi == (int)id) {
            gi_handles[h->gpu][m].gpu = h->gpu; gi_handles[h->gpu][m].mig = m;
            *out = &gi_handles[h->gpu][m];
            return OK;
        }
    }
    return E_NOT_FOUND;
}

EXPORT nvmlReturn_t nvmlGpuInstanceGetInfo(nvmlGpuInstance_t gi, nvmlGpuInstanceInfo_t *info) {
    NULLCHK(gi); NULLCHK(info);
    state_t *s = snap();
    if (init_refcount <= 0) return E_UNINIT;
    if (s->all_error) return s->all_error;
    if (gi->gpu < 0 || gi->gpu >= s->ngpus) return E_INVALID;
    gpu_t *g = &s->gpus[gi->gpu];
    if (g->lost) return E_GPU_LOST;
    if (unsupported(g, __func__)) return E_NOT_SUPPORTED;
    if (gi->mig < 0 || gi->mig >= g->nmig) return E_INVALID;
    const mig_t *m = &g->migs[gi->mig];
    int slices = 0;
    for (int i = 0; i < N_GI_PROFILES; i++) if (gi_profiles[i].id == m->profile_id) slices = gi_profiles[i].slices;
    gpu_handles[gi->gpu].gpu = gi->gpu; gpu_handles[gi->gpu].mig = -1;
    info->device = &gpu_handles[gi->gpu];
    info->id = (unsigned)m->gi; info->profileId = (unsigned)m->profile_id;
    info->placement.start = 0; info->placement.size = (unsigned)slices;
    return OK;
}

/* ---- GPM (Hopper and newer) -----------------------------------------------------------
 * Each GPU integrates its activity counters whenever a sample is taken: the time since the
 * previous sample, times the scenario's percent per metric ("gpm=<id>:<percent>,..."). So a
 * metric over two samples is exactly the scenario's percent while the scenario holds. */
#define GPM_MAGIC 0x47504d31u
typedef struct nvmlGpmSample_st {
    unsigned int magic; int gpu; unsigned long long t_ns;
    double busy[GPM_ID_LIMIT]; unsigned char has[GPM_ID_LIMIT];
} gpm_sample_t;
typedef gpm_sample_t *nvmlGpmSample_t;
typedef struct { unsigned int version, isSupportedDevice; } nvmlGpmSupport_t;
typedef struct {
    unsigned int metricId; nvmlReturn_t nvmlReturn; double value;
    struct { char *shortName, *longName, *unit; } metricInfo;
} nvmlGpmMetric_t;
typedef struct {
    unsigned int version, numMetrics; nvmlGpmSample_t sample1, sample2;
    nvmlGpmMetric_t metrics[];  /* NVML_GPM_METRIC_MAX entries in nvml.h; only numMetrics are touched */
} nvmlGpmMetricsGet_t;

static double gpm_acc[MAX_GPUS][GPM_ID_LIMIT];
static unsigned long long gpm_last[MAX_GPUS];
static int gpm_live;

/* Test hook (not NVML): GPM samples allocated and not yet freed. */
EXPORT int fakeNvmlGpmLiveSamples(void) { return gpm_live; }

EXPORT nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t h, nvmlGpmSupport_t *sup) {
    ENTER(h) NULLCHK(sup);
    if (sup->version != 1) return E_VERSION;
    sup->isSupportedDevice = g->gpm_supported ? 1 : 0;
    return OK;
}

EXPORT nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t *out) {
    NULLCHK(out);
    if (init_refcount <= 0) return E_UNINIT;
    gpm_sample_t *smp = calloc(1, sizeof *smp);
    if (!smp) return E_UNKNOWN;
    smp->magic = GPM_MAGIC; smp->gpu = -1;
    pthread_mutex_lock(&lock); gpm_live++; pthread_mutex_unlock(&lock);
    *out = smp;
    return OK;
}

EXPORT nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t smp) {
    NULLCHK(smp);
    if (smp->magic != GPM_MAGIC) return E_INVALID;
    smp->magic = 0;
    free(smp);
    pthread_mutex_lock(&lock); gpm_live--; pthread_mutex_unlock(&lock);
    return OK;
}

EXPORT nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t h, nvmlGpmSample_t smp) {
    ENTER(h) NULLCHK(smp);
    if (smp->magic != GPM_MAGIC || h->mig >= 0) return E_INVALID;
    if (!g->gpm_supported) return E_NOT_SUPPORTED;
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long now = (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
    pthread_mutex_lock(&lock);
    int i = h->gpu;
    if (gpm_last[i] && now > gpm_last[i]) {
        double dt = (double)(now - gpm_last[i]);
        for (int k = 0; k < g->ngpm; k++) gpm_acc[i][g->gpm_ids[k]] += g->gpm_pct[k] / 100.0 * dt;
    }
    gpm_last[i] = now;
    smp->gpu = i; smp->t_ns = now;
    memcpy(smp->busy, gpm_acc[i], sizeof smp->busy);
    memset(smp->has, 0, sizeof smp->has);
    for (int k = 0; k < g->ngpm; k++) smp->has[g->gpm_ids[k]] = 1;
    pthread_mutex_unlock(&lock);
    return OK;
}

EXPORT nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t *mg) {
    NULLCHK(mg);
    if (init_refcount <= 0) return E_UNINIT;
    if (mg->version != 1) return E_VERSION;
    gpm_sample_t *a = mg->sample1, *b = mg->sample2;
    if (!a || !b || a->magic != GPM_MAGIC || b->magic != GPM_MAGIC || a->gpu < 0 || a->gpu != b->gpu) return E_INVALID;
    if (b->t_ns <= a->t_ns || mg->numMetrics > 512) return E_INVALID;
    double dt = (double)(b->t_ns - a->t_ns);
    for (unsigned int k = 0; k < mg->numMetrics; k++) {
        nvmlGpmMetric_t *m = &mg->metrics[k];
        memset(&m->metricInfo, 0, sizeof m->metricInfo);
        if (m->metricId >= GPM_ID_LIMIT || !b->has[m->metricId]) { m->nvmlReturn = E_NOT_SUPPORTED; m->value = 0; continue; }
        m->nvmlReturn = OK;
        m->value = 100.0 * (b->busy[m->metricId] - a->busy[m->metricId]) / dt;
    }
    return OK;
}
