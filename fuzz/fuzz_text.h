/* fuzz_text.h: what both fuzz targets do with an input first. */
#ifndef FUZZ_TEXT_H
#define FUZZ_TEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input as a NUL-terminated string (malloc'd), or NULL for an empty or
 * over-long (64 KiB) input. On the first call, with FUZZ_STATS set in the
 * environment, stats is registered to print at exit. */
static inline char *fuzz_text(const uint8_t *data, size_t size, void (*stats)(void))
{
    static int started;
    if (!started++ && getenv("FUZZ_STATS"))
        atexit(stats);
    if (size < 1 || size > 1 << 16)
        return NULL;
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = 0;
    }
    return text;
}

#endif
