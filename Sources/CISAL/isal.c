#include "CISAL.h"

#include <stddef.h>

// LOGSURGE_NO_ISAL builds the fallback even where the header exists (to test that build).
#if !defined(LOGSURGE_NO_ISAL) && __has_include(<isa-l/igzip_lib.h>)
#include <dlfcn.h>
#include <isa-l/igzip_lib.h>
#include <pthread.h>
#include <stdlib.h>

struct logsurge_isal {
    struct inflate_state state;
};

static void (*inflate_init)(struct inflate_state *);
static void (*inflate_reset)(struct inflate_state *);
static int (*inflate_run)(struct inflate_state *);
static const char *library;
static const char *failure = "ISA-L not loaded";
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    // LOGSURGE_ISAL_LIBRARY names another build of the library (or, when it does not exist,
    // makes ISA-L unavailable: the tests use that to check the fallback to zlib).
    const char *chosen = getenv("LOGSURGE_ISAL_LIBRARY");
    const char *const names[] = {"libisal.so.2", "libisal.so"};
    void *handle = NULL;
    if (chosen != NULL && chosen[0] != '\0') {
        handle = dlopen(chosen, RTLD_NOW | RTLD_LOCAL);
        library = chosen;
    } else {
        for (size_t i = 0; i < sizeof names / sizeof names[0] && handle == NULL; i++) {
            handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
            library = names[i];
        }
    }
    if (handle == NULL) {
        library = NULL;
        failure = chosen != NULL && chosen[0] != '\0' ? "the library named by LOGSURGE_ISAL_LIBRARY cannot be loaded"
                                                    : "libisal.so.2 not found (Debian package libisal2)";
        return;
    }
    inflate_init = (void (*)(struct inflate_state *))dlsym(handle, "isal_inflate_init");
    inflate_reset = (void (*)(struct inflate_state *))dlsym(handle, "isal_inflate_reset");
    inflate_run = (int (*)(struct inflate_state *))dlsym(handle, "isal_inflate");
    if (inflate_init == NULL || inflate_reset == NULL || inflate_run == NULL) {
        inflate_init = NULL;
        library = NULL;
        failure = "libisal.so.2 lacks isal_inflate";
        return;
    }
    failure = NULL;
}

int logsurge_isal_load(const char **why) {
    pthread_once(&once, load);
    if (why != NULL) *why = failure;
    return failure == NULL;
}

const char *logsurge_isal_library(void) {
    return logsurge_isal_load(NULL) ? library : NULL;
}

logsurge_isal *logsurge_isal_new(void) {
    if (!logsurge_isal_load(NULL)) return NULL;
    logsurge_isal *stream = malloc(sizeof *stream);
    if (stream == NULL) return NULL;
    inflate_init(&stream->state);
    stream->state.crc_flag = ISAL_GZIP;
    return stream;
}

void logsurge_isal_free(logsurge_isal *stream) {
    free(stream);
}

void logsurge_isal_reset(logsurge_isal *stream) {
    inflate_reset(&stream->state);
    stream->state.crc_flag = ISAL_GZIP;
}

logsurge_isal_result logsurge_isal_inflate(logsurge_isal *stream,
                                           const uint8_t *input, uint32_t input_count,
                                           uint8_t *output, uint32_t output_count) {
    struct inflate_state *state = &stream->state;
    state->next_in = (uint8_t *)input;  // ISA-L only reads through next_in.
    state->avail_in = input_count;
    state->next_out = output;
    state->avail_out = output_count;
    int status = inflate_run(state);
    logsurge_isal_result result = {
        .consumed = input_count - state->avail_in,
        .produced = output_count - state->avail_out,
        .status = status == ISAL_DECOMP_OK || status == ISAL_END_INPUT || status == ISAL_OUT_OVERFLOW ? 0 : status,
        .member_end = status == ISAL_DECOMP_OK && state->block_state == ISAL_BLOCK_FINISH,
    };
    return result;
}

const char *logsurge_isal_describe(int32_t status) {
    switch (status) {
    case ISAL_INVALID_BLOCK: return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid distance too far back";
    case ISAL_INVALID_WRAPPER: return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD: return "unknown compression method";
    case ISAL_INCORRECT_CHECKSUM: return "CRC-32 or length mismatch";
    case ISAL_NEED_DICT: return "needs a preset dictionary";
    default: return "ISA-L inflate error";
    }
}

#else  // Built without ISA-L's header: every call says so.

int logsurge_isal_load(const char **why) {
    if (why != NULL) *why = "built without ISA-L (install libisal-dev and rebuild)";
    return 0;
}
const char *logsurge_isal_library(void) { return NULL; }
logsurge_isal *logsurge_isal_new(void) { return NULL; }
void logsurge_isal_free(logsurge_isal *stream) { (void)stream; }
void logsurge_isal_reset(logsurge_isal *stream) { (void)stream; }
logsurge_isal_result logsurge_isal_inflate(logsurge_isal *stream, const uint8_t *input, uint32_t input_count,
                                           uint8_t *output, uint32_t output_count) {
    (void)stream; (void)input; (void)input_count; (void)output; (void)output_count;
    logsurge_isal_result result = {0, 0, -1, 0};
    return result;
}
const char *logsurge_isal_describe(int32_t status) { (void)status; return "ISA-L not available"; }

#endif
