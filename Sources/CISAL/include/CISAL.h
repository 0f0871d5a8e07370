// ISA-L's gzip inflater (Intel Intelligent Storage Acceleration Library), loaded at run time.
//
// The library is optional twice over: this code is compiled against ISA-L's header only when
// the build machine has it (`libisal-dev`), and the library itself (`libisal.so.2`) is opened
// with dlopen when first asked for. Without either, `logsurge_isal_load` says why and zlib is used.
#ifndef LOGSURGE_CISAL_H
#define LOGSURGE_CISAL_H

#include <stdint.h>

/// One gzip inflate stream (an ISA-L `struct inflate_state`).
typedef struct logsurge_isal logsurge_isal;

/// Result of one `logsurge_isal_inflate` call.
typedef struct {
    /// Input bytes consumed and output bytes written by the call.
    uint32_t consumed, produced;
    /// ISA-L's status: 0 is progress, negative values are damaged data.
    int32_t status;
    /// 1 when the member ended: its deflate data, trailer CRC-32 and length all checked.
    int32_t member_end;
} logsurge_isal_result;

/// 1 when ISA-L can be used; 0 otherwise with `*why` set to a static explanation.
/// Loads the library on the first call; thread-safe.
int logsurge_isal_load(const char **why);

/// The file name of the loaded library, or NULL before a successful load.
const char *logsurge_isal_library(void);

/// A new stream that expects a gzip header, or NULL (not loaded, or out of memory).
logsurge_isal *logsurge_isal_new(void);
void logsurge_isal_free(logsurge_isal *stream);

/// Prepares `stream` for the next gzip member.
void logsurge_isal_reset(logsurge_isal *stream);

/// Inflates from `input` into `output`, parsing the gzip header and checking the trailer.
logsurge_isal_result logsurge_isal_inflate(logsurge_isal *stream,
                                           const uint8_t *input, uint32_t input_count,
                                           uint8_t *output, uint32_t output_count);

/// A plain description of an ISA-L status, e.g. "invalid deflate symbol".
const char *logsurge_isal_describe(int32_t status);

#endif
