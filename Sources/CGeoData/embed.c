// Embeds country.mmdb (built by Scripts/build-country-db.py) into the binary's read-only data.
//
// `.incbin` is resolved by the assembler through the include path: the target's
// `cSettings: [.headerSearchPath(".")]` passes `-I Sources/CGeoData`, so "country.mmdb" next to
// this file is found. The compiler's dependency file does not list `.incbin` inputs, so a new
// country.mmdb alone would not rebuild this object; the script also rewrites
// country_db_stamp.h (the database's SHA-256), included below, which does. After replacing
// country.mmdb by hand, touch this file.
//
// country-tables.bin, the database's country tables flattened (written by
// `logsurge geoip --write-tables`, see Scripts/GEOIP.md), is embedded the same way, with
// country_tables_stamp.h as its rebuild trigger.
#include "CGeoData.h"
#include "country_db_stamp.h"
#include "country_tables_stamp.h"

#if defined(__APPLE__)
#define LOGSURGE_SYMBOL(name) "_" #name
#define LOGSURGE_RODATA ".const_data"
#define LOGSURGE_HIDDEN(name) ".private_extern " LOGSURGE_SYMBOL(name) "\n"
#else
#define LOGSURGE_SYMBOL(name) #name
#define LOGSURGE_RODATA ".section .rodata"
#define LOGSURGE_HIDDEN(name) ".hidden " LOGSURGE_SYMBOL(name) "\n"
#endif

__asm__(
    LOGSURGE_RODATA "\n"
    ".balign 16\n"
    ".globl " LOGSURGE_SYMBOL(logsurge_country_db_start) "\n"
    LOGSURGE_HIDDEN(logsurge_country_db_start)
    LOGSURGE_SYMBOL(logsurge_country_db_start) ":\n"
    ".incbin \"country.mmdb\"\n"
    ".globl " LOGSURGE_SYMBOL(logsurge_country_db_end) "\n"
    LOGSURGE_HIDDEN(logsurge_country_db_end)
    LOGSURGE_SYMBOL(logsurge_country_db_end) ":\n"
    ".byte 0\n"
    ".balign 16\n"
    ".globl " LOGSURGE_SYMBOL(logsurge_country_tables_start) "\n"
    LOGSURGE_HIDDEN(logsurge_country_tables_start)
    LOGSURGE_SYMBOL(logsurge_country_tables_start) ":\n"
    ".incbin \"country-tables.bin\"\n"
    ".globl " LOGSURGE_SYMBOL(logsurge_country_tables_end) "\n"
    LOGSURGE_HIDDEN(logsurge_country_tables_end)
    LOGSURGE_SYMBOL(logsurge_country_tables_end) ":\n"
    ".byte 0\n"
    ".text\n");

extern const unsigned char logsurge_country_db_start[] __attribute__((visibility("hidden")));
extern const unsigned char logsurge_country_db_end[] __attribute__((visibility("hidden")));
extern const unsigned char logsurge_country_tables_start[] __attribute__((visibility("hidden")));
extern const unsigned char logsurge_country_tables_end[] __attribute__((visibility("hidden")));

const unsigned char *logsurge_country_db(void) {
    return logsurge_country_db_start;
}

unsigned long logsurge_country_db_size(void) {
    return (unsigned long)(logsurge_country_db_end - logsurge_country_db_start);
}

/// The SHA-256 of the embedded database, as written by the script (for diagnostics).
const char *logsurge_country_db_sha256(void) {
    return LOGSURGE_COUNTRY_DB_SHA256;
}

const unsigned char *logsurge_country_tables(void) {
    return logsurge_country_tables_start;
}

unsigned long logsurge_country_tables_size(void) {
    return (unsigned long)(logsurge_country_tables_end - logsurge_country_tables_start);
}
